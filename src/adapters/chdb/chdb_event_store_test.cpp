#include "adapters/chdb/chdb_event_store.hpp"

#include <gtest/gtest.h>

#include "contract/event_store_contract.hpp"

namespace adapters::chdb {
namespace {

using contract::EventStoreContract;

contract::StoreFactory ChdbFactory() {
  return {"Chdb", [](const std::filesystem::path& dir, const base::Clock& clock)
                      -> base::Result<std::unique_ptr<app::EventStore>> {
            ChdbEventStore::Options options;
            options.library_path = ANALYTICS_TEST_CHDB_LIB;
            options.data_dir = (dir / "clickhouse").string();
            options.database = "analytics_test";
            auto store = ChdbEventStore::Open(options, clock);
            if (!store) return base::Fail(store.error());
            return std::unique_ptr<app::EventStore>(std::move(*store));
          }};
}

INSTANTIATE_TEST_SUITE_P(Chdb, EventStoreContract, testing::Values(ChdbFactory()),
                         [](const auto& info) { return info.param.name; });

TEST(ChdbEventStore, MissingLibraryIsAClearError) {
  base::SystemClock clock;
  ChdbEventStore::Options options;
  options.library_path = "/nonexistent/libchdb.so";
  options.data_dir = "/tmp/unused";
  auto store = ChdbEventStore::Open(options, clock);
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().field, "CHDB_LIB_PATH");
  EXPECT_NE(store.error().message.find("scripts/setup"), std::string::npos);
}

TEST(ChdbEventStore, BadDatabaseNameIsRefused) {
  base::SystemClock clock;
  ChdbEventStore::Options options;
  options.library_path = ANALYTICS_TEST_CHDB_LIB;
  options.data_dir = "/tmp/unused";
  options.database = "x`; DROP";
  auto store = ChdbEventStore::Open(options, clock);
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().field, "CLICKHOUSE_DB");
}

}  // namespace
}  // namespace adapters::chdb
