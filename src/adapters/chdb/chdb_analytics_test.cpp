// The analytics SQL run by the embedded engine: bucket boundaries computed by ClickHouse's
// time-zone functions must be exactly the ones the service computes (domain::BucketStarts),
// and rows stored twice must count once.

#include <gtest/gtest.h>

#include <fmt/format.h>

#include <filesystem>
#include <set>

#include "adapters/chdb/chdb_event_store.hpp"
#include "adapters/clickhouse/analytics_sql.hpp"
#include "domain/timestamp.hpp"

namespace adapters::chdb {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;

base::TimePoint At(std::string_view iso) { return *domain::ParseIsoDateTime(iso); }

class ChdbAnalyticsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = std::filesystem::temp_directory_path() / ("chdb_analytics_" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir_);
    ChdbEventStore::Options options;
    options.library_path = ANALYTICS_TEST_CHDB_LIB;
    options.data_dir = (dir_ / "clickhouse").string();
    options.database = "analytics_test";
    auto store = ChdbEventStore::Open(options, clock_);
    ASSERT_TRUE(store.has_value()) << store.error().message;
    store_ = std::move(*store);
    ASSERT_TRUE(store_->Migrate().has_value());
    analytics_ = std::make_unique<clickhouse::ClickHouseAnalyticsStore>(
        [](const std::string& sql, std::string_view format) { return store_->Query(sql, format); },
        "analytics_test");
  }
  static void TearDownTestSuite() {
    analytics_.reset();
    if (store_) store_->Close();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  static domain::Event Message(std::string id, base::TimePoint t, std::string user = "u1") {
    domain::Event e;
    e.event_id = std::move(id);
    e.type = domain::EventType::kChatMessageSent;
    e.timestamp = t;
    e.user_id = std::move(user);
    e.conversation_id = "c1";
    e.provider = "openai";
    e.model = "gpt-4o";
    e.tokens = 10;
    return e;
  }

  static inline std::filesystem::path dir_;
  static inline base::SystemClock clock_;
  static inline std::unique_ptr<ChdbEventStore> store_;
  static inline std::unique_ptr<clickhouse::ClickHouseAnalyticsStore> analytics_;
};

TEST_F(ChdbAnalyticsTest, BucketsFromSqlAreExactlyTheServicesBuckets) {
  // One message every 37 minutes over two DST changes, month and week edges.
  const domain::TimeRange range{At("2025-03-27T00:00:00Z"), At("2025-04-03T00:00:00Z")};
  const domain::TimeRange autumn{At("2025-10-24T00:00:00Z"), At("2025-11-03T00:00:00Z")};
  // Lord Howe's half-hour changes (2025-04-06 and 2025-10-05) are left out on purpose: there the
  // service cuts the repeated local hour differently from the engine, and answers map the
  // engine's rows to the bucket holding them (docs/metrics.md).
  std::vector<domain::Event> events;
  for (const auto& r : {range, autumn}) {
    int n = 0;
    for (auto t = r.start; t < r.end; t += std::chrono::minutes{37}) {
      events.push_back(Message(fmt::format("b{}-{}", r.start.time_since_epoch().count(), n++), t));
    }
  }
  ASSERT_TRUE(store_->Append(events).has_value());

  for (const auto* zone : {"UTC", "Europe/Berlin", "Asia/Kolkata", "America/New_York", "Australia/Lord_Howe"}) {
    const auto tz = *domain::TimeZone::Locate(zone);
    for (const auto g : {domain::Granularity::kHour, domain::Granularity::kDay, domain::Granularity::kWeek,
                         domain::Granularity::kMonth}) {
      for (const auto& r : {range, autumn}) {
        const auto starts = domain::BucketStarts(r, tz, g, domain::kMaxBuckets);
        ASSERT_TRUE(starts.has_value());
        std::set<std::int64_t> expected;
        for (const auto t : *starts) expected.insert(t.time_since_epoch().count());
        app::MessageGrouping grouping;
        grouping.bucketing = {g, &tz};
        const auto rows = analytics_->Messages(r, grouping);
        ASSERT_TRUE(rows.has_value()) << rows.error().message;
        for (const auto& row : *rows) {
          EXPECT_TRUE(expected.contains(row.bucket_ms))
              << zone << " " << domain::GranularityName(g) << " SQL bucket " << row.bucket_ms
              << " (" << domain::FormatIsoUtc(base::TimePoint{milliseconds{row.bucket_ms}}) << ")";
        }
        if (g != domain::Granularity::kMonth) {
          // Every bucket holds at least one message at this density, so all are present.
          EXPECT_EQ(rows->size(), expected.size()) << zone << " " << domain::GranularityName(g);
        }
      }
    }
  }
}

TEST_F(ChdbAnalyticsTest, RowsStoredTwiceCountOnce) {
  const domain::TimeRange range{At("2024-01-10T00:00:00Z"), At("2024-01-11T00:00:00Z")};
  std::vector<domain::Event> events = {Message("dup-1", At("2024-01-10T10:00:00Z"), "a"),
                                       Message("dup-2", At("2024-01-10T11:00:00Z"), "b")};
  ASSERT_TRUE(store_->Append(events).has_value());
  ASSERT_TRUE(store_->Append(std::span(events).first(1)).has_value());  // a redelivered copy
  const auto rows = analytics_->Messages(range, {.distinct_users = true});
  ASSERT_TRUE(rows.has_value()) << rows.error().message;
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ(rows->front().messages, 2u);
  EXPECT_EQ(rows->front().tokens, 20u);
  EXPECT_EQ(rows->front().users, 2u);
}

TEST_F(ChdbAnalyticsTest, EveryNamedReadRunsOnTheEngine) {
  const domain::TimeRange range{At("2024-01-01T00:00:00Z"), At("2024-02-01T00:00:00Z")};
  const auto tz = *domain::TimeZone::Locate("Europe/Berlin");
  const app::Bucketing b{domain::Granularity::kWeek, &tz};
  EXPECT_TRUE(analytics_->Signups(range).has_value());
  EXPECT_TRUE(analytics_->SignupsByBucket(range, b).has_value());
  EXPECT_TRUE(analytics_->PlansAt(range.end).has_value());
  EXPECT_TRUE(analytics_->ActiveUsers(range, b).has_value());
  EXPECT_TRUE(analytics_->ActiveUsersSince(range.start, range.start, range.start, range.end).has_value());
  EXPECT_TRUE(analytics_->Retention(range, b).has_value());
  EXPECT_TRUE(analytics_->Conversations(range, b).has_value());
  const auto sessions = analytics_->Sessions(range, b, std::chrono::minutes{30});
  ASSERT_TRUE(sessions.has_value()) << sessions.error().message;
  EXPECT_TRUE(analytics_->Payments(range, true).has_value());
  EXPECT_TRUE(analytics_->PaymentOutcomes(range).has_value());
  EXPECT_TRUE(analytics_->BillingHistory(range.end).has_value());
  EXPECT_TRUE(analytics_->CostGroups(range, b, {1, 2}).has_value());
  EXPECT_TRUE(analytics_->ModelUsage(range).has_value());
  EXPECT_TRUE(analytics_->UsersOutside(range, {{"openai", "gpt-4o"}}).has_value());
  EXPECT_TRUE(analytics_->Latencies(range, true).has_value());
}

TEST_F(ChdbAnalyticsTest, SessionsSplitOnlyOnGapsLongerThanTheTimeout) {
  const domain::TimeRange range{At("2023-05-01T00:00:00Z"), At("2023-05-02T00:00:00Z")};
  // u: 10:00, 10:30 (exactly 30 min: same session), 11:00:00.001 (30 min 1 ms: new session).
  std::vector<domain::Event> events = {Message("s1", At("2023-05-01T10:00:00Z"), "u"),
                                       Message("s2", At("2023-05-01T10:30:00Z"), "u"),
                                       Message("s3", At("2023-05-01T11:00:00.001Z"), "u"),
                                       Message("s4", At("2023-05-01T11:00:10Z"), "u")};
  ASSERT_TRUE(store_->Append(events).has_value());
  const auto tz = domain::TimeZone::Utc();
  const auto rows = analytics_->Sessions(range, {domain::Granularity::kDay, &tz}, std::chrono::minutes{30});
  ASSERT_TRUE(rows.has_value()) << rows.error().message;
  ASSERT_EQ(rows->size(), 2u);  // the total and one day
  for (const auto& r : *rows) {
    EXPECT_EQ(r.sessions, 2u);
    EXPECT_EQ(r.total_duration_ms, 30 * 60'000 + 9'999);
    EXPECT_DOUBLE_EQ(r.median_duration_ms, (30 * 60'000 + 9'999) / 2.0);
  }
}

}  // namespace
}  // namespace adapters::chdb
