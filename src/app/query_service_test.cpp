#include "app/query_service.hpp"

#include <gtest/gtest.h>

#include "app/testing/fake_analytics_store.hpp"
#include "domain/timestamp.hpp"

namespace app {
namespace {

using domain::Metric;
using domain::Value;

base::TimePoint At(std::string_view iso) { return *domain::ParseIsoDateTime(iso); }
std::int64_t Ms(std::string_view iso) { return At(iso).time_since_epoch().count(); }

class QueryServiceTest : public ::testing::Test {
 protected:
  QueryServiceTest() : clock_(At("2025-06-15T00:00:00Z")), cache_(clock_, std::chrono::seconds{0}) {}

  QueryService Service(std::string_view prices = R"({"prices": []})") {
    return QueryService(store_, *domain::PlanCatalog::Parse(R"({"plans": []})"),
                        *domain::PriceTable::Parse(prices), cache_, {});
  }

  domain::MetricResult Run(QueryService& s, Metric m, std::map<std::string, std::string> params) {
    const auto q = domain::ParseAnalyticsQuery(m, params, clock_.Now());
    EXPECT_TRUE(q.has_value()) << q.error().message;
    auto r = s.Compute(*q);
    EXPECT_TRUE(r.has_value()) << r.error().message;
    return *r;
  }

  static std::int64_t Int(const Value& row, std::string_view key) { return row.Find(key)->i; }
  static double Num(const Value& row, std::string_view key) {
    const auto* v = row.Find(key);
    return v->kind == Value::Kind::kInt ? static_cast<double>(v->i) : v->d;
  }
  static const std::string& Str(const Value& row, std::string_view key) { return row.Find(key)->s; }
  static bool IsNull(const Value& row, std::string_view key) {
    return row.Find(key)->kind == Value::Kind::kNull;
  }

  base::FixedClock clock_;
  ResponseCache cache_;
  testing::FakeAnalyticsStore store_;
};

TEST_F(QueryServiceTest, GrowthFillsEmptyBucketsAndAccumulatesFromEarlierSignups) {
  store_.signups_by_bucket = {{0, 100}, {Ms("2025-06-02T00:00:00Z"), 5}, {Ms("2025-06-04T00:00:00Z"), 7}};
  auto s = Service();
  const auto r = Run(s, Metric::kUsersGrowth, {{"startDate", "2025-06-01"}, {"endDate", "2025-06-04"}});
  const auto& rows = r.data.items;
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_EQ(Str(rows[0], "bucket"), "2025-06-01T00:00:00+00:00");
  EXPECT_EQ(Int(rows[0], "newUsers"), 0);
  EXPECT_EQ(Int(rows[0], "totalUsers"), 100);
  EXPECT_EQ(Int(rows[1], "newUsers"), 5);
  EXPECT_EQ(Int(rows[2], "totalUsers"), 105);
  EXPECT_EQ(Int(rows[3], "totalUsers"), 112);
}

TEST_F(QueryServiceTest, GroupedSeriesAreDensePerValueAndOrderedByBucketThenValue) {
  store_.messages = {{Ms("2025-06-01T00:00:00Z"), "openai", "", 3, 30, 0, 0, 0, 0},
                     {Ms("2025-06-02T00:00:00Z"), "anthropic", "", 2, 20, 0, 0, 0, 0}};
  auto s = Service();
  const auto r = Run(s, Metric::kChatMessages,
                     {{"startDate", "2025-06-01"}, {"endDate", "2025-06-02"}, {"groupBy", "provider"}});
  EXPECT_TRUE(store_.last_grouping.by_provider);
  EXPECT_FALSE(store_.last_grouping.by_model);
  const auto& rows = r.data.items;
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_EQ(Str(rows[0], "provider"), "anthropic");
  EXPECT_EQ(Int(rows[0], "messages"), 0);
  EXPECT_EQ(Str(rows[1], "provider"), "openai");
  EXPECT_EQ(Int(rows[1], "messages"), 3);
  EXPECT_EQ(Int(rows[2], "messages"), 2);
  EXPECT_EQ(Str(rows[3], "bucket"), "2025-06-02T00:00:00+00:00");
  EXPECT_EQ(Int(*r.summary, "messages"), 5);
}

TEST_F(QueryServiceTest, TokensAverageIsNullForAnEmptyBucket) {
  store_.messages = {{Ms("2025-06-01T00:00:00Z"), "", "", 4, 10, 6, 3, 0, 0}};
  auto s = Service();
  const auto r = Run(s, Metric::kChatTokens, {{"startDate", "2025-06-01"}, {"endDate", "2025-06-02"}});
  ASSERT_EQ(r.data.items.size(), 2u);
  EXPECT_DOUBLE_EQ(Num(r.data.items[0], "avgTokensPerMessage"), 2.5);
  EXPECT_EQ(Int(r.data.items[0], "inputTokens"), 6);
  EXPECT_TRUE(IsNull(r.data.items[1], "avgTokensPerMessage"));
}

TEST_F(QueryServiceTest, ByProviderSortsByMessagesThenNameWithShares) {
  store_.messages = {{0, "b", "", 5, 50, 0, 0, 2, 0}, {0, "a", "", 5, 40, 0, 0, 3, 0}, {0, "c", "", 10, 1, 0, 0, 1, 0}};
  auto s = Service();
  const auto r = Run(s, Metric::kChatByProvider, {});
  const auto& rows = r.data.items;
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(Str(rows[0], "provider"), "c");
  EXPECT_EQ(Str(rows[1], "provider"), "a");
  EXPECT_EQ(Str(rows[2], "provider"), "b");
  EXPECT_DOUBLE_EQ(Num(rows[0], "share"), 0.5);
  EXPECT_EQ(Int(rows[1], "users"), 3);
  EXPECT_EQ(rows[0].Find("model"), nullptr);
}

TEST_F(QueryServiceTest, PopularityAddsAnOtherRowWithDistinctUsersOfTheRest) {
  store_.models = {{"p", "m1", 10, 4}, {"p", "m2", 30, 5}, {"q", "m3", 20, 6}, {"q", "m4", 20, 1}};
  store_.users_outside = 7;
  auto s = Service();
  const auto r = Run(s, Metric::kProvidersPopularity, {{"limit", "2"}});
  const auto& rows = r.data.items;
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(Str(rows[0], "model"), "m2");
  EXPECT_EQ(Str(rows[1], "model"), "m3");  // ties broken by provider, model
  EXPECT_EQ(Int(rows[2], "rank"), 3);
  EXPECT_EQ(Str(rows[2], "provider"), "(other)");
  EXPECT_EQ(Int(rows[2], "messages"), 30);
  EXPECT_EQ(Int(rows[2], "users"), 7);
  EXPECT_DOUBLE_EQ(Num(rows[2], "share"), 30.0 / 80.0);
  EXPECT_EQ(store_.last_excluded,
            (std::vector<std::pair<std::string, std::string>>{{"p", "m2"}, {"q", "m3"}}));
}

TEST_F(QueryServiceTest, PopularityWithoutMoreModelsHasNoOtherRow) {
  store_.models = {{"p", "m1", 10, 4}};
  auto s = Service();
  EXPECT_EQ(Run(s, Metric::kProvidersPopularity, {}).data.items.size(), 1u);
  EXPECT_EQ(store_.calls, 1);
}

TEST_F(QueryServiceTest, CostsUseTheSentCostThenThePriceInForceElseCountUnpriced) {
  auto s = Service(R"({"prices": [
    {"provider": "p", "model": "split", "effectiveFrom": "2025-01-01", "inputPerMillion": "1", "outputPerMillion": "3"},
    {"provider": "p", "model": "split", "effectiveFrom": "2025-06-01", "inputPerMillion": "2", "outputPerMillion": "4"},
    {"provider": "p", "model": "blend", "effectiveFrom": "2025-01-01", "blendedPerMillion": "0.5"}]})");
  // Breakpoints: 2025-01-01 (epoch 1), 2025-06-01 (epoch 2).
  store_.cost_groups = {
      // costUsd sent (0.25, scale 9), even where a price exists.
      {0, "p", "split", 2, true, true, 2, 250'000'000, 100, 50, 50},
      // split priced at the second price: 1M in x 2 + 0.5M out x 4 = 4 USD.
      {0, "p", "split", 2, false, true, 3, 0, 1'500'000, 1'000'000, 500'000},
      // split priced at the first price: 1M x 1 + 1M x 3 = 4 USD.
      {0, "p", "split", 1, false, true, 1, 0, 2'000'000, 1'000'000, 1'000'000},
      // no split, but only split prices: unpriced.
      {0, "p", "split", 2, false, false, 4, 0, 1000, 0, 0},
      // blended: 3M x 0.5 = 1.5 USD.
      {0, "p", "blend", 1, false, false, 5, 0, 3'000'000, 0, 0},
      // before any price: unpriced.
      {0, "p", "blend", 0, false, false, 6, 0, 1'000'000, 0, 0},
      // a model without prices.
      {0, "q", "none", 2, false, true, 7, 0, 10, 5, 5},
  };
  const auto r = Run(s, Metric::kProvidersCosts, {{"groupBy", "model"}});
  EXPECT_EQ(store_.last_breakpoints, (std::vector<std::int64_t>{Ms("2025-01-01T00:00:00Z"), Ms("2025-06-01T00:00:00Z")}));
  const auto& rows = r.data.items;
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(Str(rows[0], "model"), "split");
  EXPECT_DOUBLE_EQ(Num(rows[0], "costUsd"), 8.25);
  EXPECT_EQ(Int(rows[0], "messages"), 10);
  EXPECT_EQ(Int(rows[0], "unpricedMessages"), 4);
  EXPECT_EQ(Str(rows[1], "model"), "blend");
  EXPECT_DOUBLE_EQ(Num(rows[1], "costUsd"), 1.5);
  EXPECT_EQ(Int(rows[1], "unpricedMessages"), 6);
  EXPECT_EQ(Str(rows[2], "provider"), "q");
  EXPECT_DOUBLE_EQ(Num(rows[2], "costUsd"), 0);
  EXPECT_EQ(Int(rows[2], "unpricedMessages"), 7);
}

TEST_F(QueryServiceTest, CostsRoundToMicroDollarsAfterSumming) {
  auto s = Service(R"({"prices": [{"provider": "p", "model": "m", "effectiveFrom": "2025-01-01", "blendedPerMillion": "0.3"}]})");
  // 3 groups of 1 token at 0.3 USD/1M: 0.0000009 USD in all -> 0.000001 (not 3 x 0).
  store_.cost_groups = {{0, "p", "m", 1, false, false, 1, 0, 1, 0, 0},
                        {0, "p", "m", 1, false, false, 1, 0, 1, 0, 0},
                        {0, "p", "m", 1, false, false, 1, 0, 1, 0, 0}};
  const auto r = Run(s, Metric::kProvidersCosts, {});
  EXPECT_DOUBLE_EQ(Num(r.data.items[0], "costUsd"), 0.000001);
}

TEST_F(QueryServiceTest, SessionsOfAnEmptyBucketHaveNullAverages) {
  store_.sessions = {{Ms("2025-06-01T00:00:00Z"), 2, 3000, 1500.0}, {std::nullopt, 2, 3000, 1500.0}};
  auto s = Service();
  const auto r = Run(s, Metric::kChatAverageSession, {{"startDate", "2025-06-01"}, {"endDate", "2025-06-02"}});
  ASSERT_EQ(r.data.items.size(), 2u);
  EXPECT_DOUBLE_EQ(Num(r.data.items[0], "avgDurationSeconds"), 1.5);
  EXPECT_DOUBLE_EQ(Num(r.data.items[0], "medianDurationSeconds"), 1.5);
  EXPECT_TRUE(IsNull(r.data.items[1], "avgDurationSeconds"));
  EXPECT_TRUE(IsNull(r.data.items[1], "medianDurationSeconds"));
  EXPECT_EQ(Int(*r.summary, "sessions"), 2);
}

TEST_F(QueryServiceTest, ActiveSummaryHasNullStickinessWithoutMonthlyUsers) {
  auto s = Service();
  const auto r = Run(s, Metric::kUsersActive, {});
  EXPECT_TRUE(IsNull(*r.summary, "stickiness"));
  store_.windows = {2, 5, 8};
  const auto r2 = Run(s, Metric::kUsersActive, {});
  EXPECT_DOUBLE_EQ(Num(*r2.summary, "stickiness"), 0.25);
}

TEST_F(QueryServiceTest, RetentionListsEveryPeriodUpToTheLastBucket) {
  store_.retention.cohort_sizes = {{Ms("2025-06-02T00:00:00Z"), 4}};
  store_.retention.active = {{Ms("2025-06-02T00:00:00Z"), Ms("2025-06-02T00:00:00Z"), 4},
                             {Ms("2025-06-02T00:00:00Z"), Ms("2025-06-16T00:00:00Z"), 1}};
  auto s = Service();
  const auto r = Run(s, Metric::kUsersRetention, {{"startDate", "2025-06-02"}, {"endDate", "2025-06-22"}});
  ASSERT_EQ(r.data.items.size(), 1u);
  const auto& periods = r.data.items[0].Find("periods")->items;
  ASSERT_EQ(periods.size(), 3u);
  EXPECT_DOUBLE_EQ(Num(periods[0], "rate"), 1.0);
  EXPECT_EQ(Int(periods[1], "activeUsers"), 0);
  EXPECT_DOUBLE_EQ(Num(periods[2], "rate"), 0.25);
}

TEST_F(QueryServiceTest, RevenueSortsByAmountAndRoundsToCents) {
  store_.payments = {{"", "EUR", 100'005, 1}, {"", "USD", 2'000'000, 3}};
  store_.outcomes = {4, 1};
  auto s = Service();
  const auto r = Run(s, Metric::kRevenueTotal, {});
  EXPECT_EQ(Str(r.data.items[0], "currency"), "USD");
  EXPECT_DOUBLE_EQ(Num(r.data.items[1], "revenue"), 10.0);  // 10.0005 -> 10.00
  EXPECT_EQ(Int(*r.summary, "failedPayments"), 1);
}

TEST_F(QueryServiceTest, MrrRowsPerBucketAndCurrencySatisfyTheIdentity) {
  using K = BillingEvent::Kind;
  store_.billing = {{"a", K::kSubscribed, Ms("2025-05-01T00:00:00Z"), "pro", "", 0},
                    {"a", K::kPayment, Ms("2025-05-01T00:00:00Z"), "pro", "USD", 100'000},
                    {"b", K::kSubscribed, Ms("2025-06-02T12:00:00Z"), "pro", "", 0},
                    {"b", K::kPayment, Ms("2025-06-02T12:00:00Z"), "pro", "USD", 50'000}};
  auto s = Service();
  const auto r = Run(s, Metric::kRevenueMrr, {{"startDate", "2025-06-01"}, {"endDate", "2025-06-03"}});
  const auto& rows = r.data.items;
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_DOUBLE_EQ(Num(rows[0], "mrr"), 10);
  EXPECT_DOUBLE_EQ(Num(rows[1], "newMrr"), 5);
  EXPECT_DOUBLE_EQ(Num(rows[1], "mrr"), 15);
  const auto arr = Run(s, Metric::kRevenueArr, {{"startDate", "2025-06-01"}, {"endDate", "2025-06-03"}});
  EXPECT_DOUBLE_EQ(Num(arr.data.items[2], "arr"), 180);
  const auto churn = Run(s, Metric::kRevenueChurnRate, {{"startDate", "2025-06-01"}, {"endDate", "2025-06-03"}});
  EXPECT_EQ(Int(churn.data.items[1], "customersAtStart"), 1);
  EXPECT_DOUBLE_EQ(Num(churn.data.items[1], "customerChurnRate"), 0);
  const auto* usd = churn.data.items[0].Find("mrr")->Find("USD");
  ASSERT_NE(usd, nullptr);
  EXPECT_DOUBLE_EQ(Num(*usd, "startMrr"), 10);
}

TEST_F(QueryServiceTest, CacheAnswersRepeatsUntilTheTtlPasses) {
  ResponseCache cache(clock_, std::chrono::seconds{30});
  QueryService s(store_, *domain::PlanCatalog::Parse(R"({"plans": []})"),
                 *domain::PriceTable::Parse(R"({"prices": []})"), cache, {});
  store_.signups = {10, 2};
  const auto q = *domain::ParseAnalyticsQuery(Metric::kUsersCount, {}, clock_.Now());
  EXPECT_FALSE(s.Run(q)->cached);
  store_.signups = {11, 3};
  const auto hit = s.Run(q);
  EXPECT_TRUE(hit->cached);
  EXPECT_EQ(hit->result.data.items[0].Find("totalUsers")->i, 10);
  EXPECT_EQ(store_.calls, 1);
  clock_.Set(clock_.Now() + std::chrono::seconds{30});
  const auto fresh = s.Run(q);
  EXPECT_FALSE(fresh->cached);
  EXPECT_EQ(fresh->result.data.items[0].Find("totalUsers")->i, 11);
}

TEST(ResponseCacheTest, DropsExpiredEntriesAndSkipsHugeAnswers) {
  base::FixedClock clock(At("2025-06-15T00:00:00Z"));
  ResponseCache cache(clock, std::chrono::seconds{30}, 4);
  domain::MetricResult small;
  small.data.items.resize(3);
  cache.Put("a", small);
  EXPECT_TRUE(cache.Get("a").has_value());
  domain::MetricResult huge;
  huge.data.items.resize(ResponseCache::kMaxCachedRows + 1);
  cache.Put("huge", huge);
  EXPECT_FALSE(cache.Get("huge").has_value());
  for (char c = 'a'; c < 'k'; ++c) cache.Put(std::string(2, c), small);  // bounded, no failure
  EXPECT_TRUE(cache.Get("jj").has_value());
  clock.Set(clock.Now() + std::chrono::seconds{30});
  EXPECT_FALSE(cache.Get("jj").has_value());
}

TEST_F(QueryServiceTest, StorageFailuresPropagateAndAreNotCached) {
  ResponseCache cache(clock_, std::chrono::seconds{30});
  QueryService s(store_, *domain::PlanCatalog::Parse(R"({"plans": []})"),
                 *domain::PriceTable::Parse(R"({"prices": []})"), cache, {});
  store_.fail = true;
  const auto q = *domain::ParseAnalyticsQuery(Metric::kUsersCount, {}, clock_.Now());
  const auto r = s.Run(q);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, base::ErrorCode::kUnavailable);
  store_.fail = false;
  EXPECT_FALSE(s.Run(q)->cached);
}

}  // namespace
}  // namespace app
