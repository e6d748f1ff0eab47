#include "adapters/clickhouse/analytics_sql.hpp"

#include <gtest/gtest.h>

#include "domain/timestamp.hpp"

namespace adapters::clickhouse {
namespace {

domain::TimeRange Range() {
  return {*domain::ParseIsoDateTime("2025-06-01T00:00:00.500Z"),
          *domain::ParseIsoDateTime("2025-06-02T00:00:00.001Z")};
}

TEST(AnalyticsSqlTest, QuoteEscapesQuotesAndBackslashes) {
  EXPECT_EQ(sql::Quote("it's"), R"('it\'s')");
  EXPECT_EQ(sql::Quote(R"(a\'b)"), R"('a\\\'b')");
}

TEST(AnalyticsSqlTest, EveryReadIsDeduplicatedAndFiltersExactlyOnMilliseconds) {
  const auto tz = domain::TimeZone::Utc();
  const app::Bucketing b{domain::Granularity::kDay, &tz};
  const auto r = Range();
  const std::vector<std::string> statements = {
      sql::Signups("db", r), sql::SignupsByBucket("db", r, b), sql::PlansAt("db", r.end),
      sql::ActiveUsers("db", r, b), sql::ActiveUsersSince("db", r.start, r.start, r.start, r.end),
      sql::RetentionCohorts("db", r, b), sql::RetentionActivity("db", r, b), sql::Conversations("db", r, b),
      sql::Sessions("db", r, b, std::chrono::minutes{30}), sql::Messages("db", r, {}),
      sql::Payments("db", r, true), sql::PaymentOutcomes("db", r), sql::BillingHistory("db", r.end),
      sql::CostGroups("db", r, b, {1, 2}), sql::ModelUsage("db", r), sql::UsersOutside("db", r, {{"p", "m"}}),
      sql::Latencies("db", r, true)};
  for (const auto& s : statements) {
    EXPECT_NE(s.find("`db`.events FINAL"), std::string::npos) << s;
    EXPECT_NE(s.find("ts_ms < 1748822400001"), std::string::npos) << s;
    // The coarse seconds filter must not cut the last millisecond off.
    EXPECT_NE(s.find("ts < toDateTime(1748822401, 'UTC')"), std::string::npos) << s;
  }
  EXPECT_NE(sql::ActiveUsers("db", r, b).find("ts_ms >= 1748736000500"), std::string::npos);
}

TEST(AnalyticsSqlTest, WholeSecondBoundsNeedOnlyTheSecondsColumn) {
  const domain::TimeRange r{*domain::ParseIsoDateTime("2025-06-01T00:00:00Z"),
                            *domain::ParseIsoDateTime("2025-06-02T00:00:00Z")};
  const auto s = sql::Messages("db", r, {});
  EXPECT_NE(s.find("ts >= toDateTime(1748736000, 'UTC') AND ts < toDateTime(1748822400, 'UTC')"),
            std::string::npos) << s;
  EXPECT_EQ(s.find("ts_ms >="), std::string::npos) << s;
  EXPECT_EQ(s.find("ts_ms <"), std::string::npos) << s;
}

TEST(AnalyticsSqlTest, BucketsUseTheZonesCalendar) {
  const auto berlin = *domain::TimeZone::Locate("Europe/Berlin");
  EXPECT_EQ(sql::BucketOf("ts", {domain::Granularity::kWeek, &berlin}),
            "(toInt64(toUnixTimestamp(toDateTime(toMonday(ts, 'Europe/Berlin'), 'Europe/Berlin'))) * 1000)");
  EXPECT_EQ(sql::BucketOf("ts", {}), "toInt64(0)");
}

TEST(AnalyticsSqlTest, ExcludedModelsAreQuoted) {
  const auto s = sql::UsersOutside("db", Range(), {{"o'ai", "m"}});
  EXPECT_NE(s.find(R"((provider, model) NOT IN (('o\'ai', 'm')))"), std::string::npos) << s;
  EXPECT_EQ(sql::UsersOutside("db", Range(), {}).find("NOT IN"), std::string::npos);
}

TEST(ParseTsvTest, SplitsRowsAndUnescapesFields) {
  const auto rows = ParseTsv("a\\tb\t1\n\\N\tx\\\\y\n");
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0], (std::vector<std::string>{"a\tb", "1"}));
  EXPECT_EQ(rows[1], (std::vector<std::string>{"\\N", "x\\y"}));
  EXPECT_TRUE(ParseTsv("").empty());
  EXPECT_EQ(ParseTsv("\t\n").front(), (std::vector<std::string>{"", ""}));
}

TEST(ParseUnitsTest, ExactDecimals) {
  EXPECT_EQ(*ParseUnits("19.9900", 4), 199'900);
  EXPECT_EQ(*ParseUnits("-0.5", 4), -5'000);
  EXPECT_EQ(*ParseUnits("12", 9), 12'000'000'000);
  EXPECT_EQ(*ParseUnits("123456789012345678.123456789", 9),
            static_cast<app::Units>(123456789012345678LL) * 1'000'000'000 + 123456789);
  EXPECT_FALSE(ParseUnits("1.23456", 4).has_value());
  EXPECT_FALSE(ParseUnits("abc", 4).has_value());
  EXPECT_FALSE(ParseUnits("", 4).has_value());
}

TEST(ClickHouseAnalyticsStoreTest, ParsesAnswersAndHidesEngineMessages) {
  std::string answer = "user.signup\t3\n";
  std::string last_sql;
  bool fail = false;
  base::Error failure = base::Error::Internal("Code: 62. Syntax error near SELECT secret");
  ClickHouseAnalyticsStore store(
      [&](const std::string& statement, std::string_view format) -> base::Result<std::string> {
        last_sql = statement;
        EXPECT_EQ(format, "TabSeparated");
        if (fail) return base::Fail(failure);
        return answer;
      },
      "db");
  answer = "5\t7\n";
  const auto totals = store.Signups(Range());
  ASSERT_TRUE(totals.has_value());
  EXPECT_EQ(totals->new_in_range, 5u);
  EXPECT_EQ(totals->total_before_end, 7u);
  answer = "5\t7\t9\n";
  EXPECT_FALSE(store.Signups(Range()).has_value());  // wrong column count
  answer = "x\t7\n";
  EXPECT_FALSE(store.Signups(Range()).has_value());  // not a number
  fail = true;
  const auto failed = store.Signups(Range());
  ASSERT_FALSE(failed.has_value());
  EXPECT_EQ(failed.error().message.find("SELECT"), std::string::npos);
  EXPECT_EQ(failed.error().code, base::ErrorCode::kInternal);
  // The embedded engine reports its exceptions as unavailable: a query bug is still a 500 ...
  failure = base::Error::Unavailable("Code: 43. Illegal type of argument: SELECT x");
  EXPECT_EQ(store.Signups(Range()).error().code, base::ErrorCode::kInternal);
  // ... but a timeout, a memory limit or closed storage is a 503.
  failure = base::Error::Unavailable("Code: 159. Timeout exceeded: elapsed 60 seconds");
  EXPECT_EQ(store.Signups(Range()).error().code, base::ErrorCode::kUnavailable);
  failure = base::Error::Unavailable("storage is closed");
  EXPECT_EQ(store.Signups(Range()).error().code, base::ErrorCode::kUnavailable);
  EXPECT_NE(last_sql.find("SETTINGS max_execution_time"), std::string::npos);
}

TEST(ClickHouseAnalyticsStoreTest, EveryReadCarriesTheTimeAndMemoryCaps) {
  std::string last_sql;
  ClickHouseAnalyticsStore store(
      [&](const std::string& statement, std::string_view) -> base::Result<std::string> {
        last_sql = statement;
        return std::string("5\t7\n");
      },
      "db", {.max_execution_time = std::chrono::seconds{3}, .max_memory_bytes = 1000});
  ASSERT_TRUE(store.Signups(Range()).has_value());
  EXPECT_TRUE(last_sql.ends_with(") SETTINGS max_execution_time = 3, max_memory_usage = 1000"))
      << last_sql;
  EXPECT_EQ(ReadSettings({}), " SETTINGS max_execution_time = 10, max_memory_usage = 2147483648");
}

}  // namespace
}  // namespace adapters::clickhouse
