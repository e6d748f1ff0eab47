#include "e2e/stored_events.hpp"

#include <gtest/gtest.h>

#include <cstdio>

#include "adapters/chdb/chdb_event_store.hpp"

namespace e2e {
namespace {

template <typename F>
auto WithStore(const std::filesystem::path& data_dir, F&& use) -> decltype(use(std::declval<adapters::chdb::ChdbEventStore&>())) {
  base::SystemClock clock;
  adapters::chdb::ChdbEventStore::Options options;
  options.library_path = ANALYTICS_TEST_CHDB_LIB;
  options.data_dir = (data_dir / "clickhouse").string();
  auto store = adapters::chdb::ChdbEventStore::Open(options, clock);
  EXPECT_TRUE(store) << store.error().message;
  if (!store) return {};
  auto result = use(**store);
  (*store)->Close();
  return result;
}

}  // namespace

StoredCounts CountStored(const std::filesystem::path& data_dir) {
  return WithStore(data_dir, [](adapters::chdb::ChdbEventStore& store) {
    StoredCounts c;
    auto tsv = store.Query("SELECT count(), uniqExact(event_id) FROM analytics.events", "TabSeparated");
    EXPECT_TRUE(tsv) << tsv.error().message;
    if (tsv) EXPECT_EQ(std::sscanf(tsv->c_str(), "%lu\t%lu", &c.rows, &c.distinct), 2) << *tsv;
    return c;
  });
}

std::vector<domain::Event> ReadStored(const std::filesystem::path& data_dir) {
  return WithStore(data_dir, [](adapters::chdb::ChdbEventStore& store) {
    auto events = store.ReadEvents(1'000'000);
    EXPECT_TRUE(events) << events.error().message;
    return events ? *events : std::vector<domain::Event>{};
  });
}

}  // namespace e2e
