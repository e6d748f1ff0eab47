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

  domain::MetricResult Run(QueryService& s, Metric m, std::map<std::string, std::string> params,
                           domain::AnswerLimits limits = {}) {
    const auto q = domain::ParseAnalyticsQuery(m, params, clock_.Now(), limits);
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

// Folding into "(other)": the tests below keep 2 groups.

constexpr domain::AnswerLimits kTwoGroups{.max_cells = 100'000, .max_groups = 2};

std::vector<std::string> Column(const std::vector<Value>& rows, std::string_view key) {
  std::vector<std::string> out;
  for (const auto& row : rows) out.push_back(row.Find(key)->s);
  return out;
}

TEST_F(QueryServiceTest, GroupedSeriesKeepTheLargestGroupsAndFoldTheRestPerBucket) {
  const auto d1 = Ms("2025-06-01T00:00:00Z"), d2 = Ms("2025-06-02T00:00:00Z");
  // Over the range: a 9, b 5, c 5, d 6. Kept: a and d; b and c (tied, both below d) fold,
  // although c is the largest of 06-02.
  store_.messages = {{d1, "", "a", 9, 90, 0, 0, 0, 0},
                     {d1, "", "b", 5, 50, 0, 0, 0, 0},
                     {d1, "", "d", 6, 60, 0, 0, 0, 0},
                     {d2, "", "c", 5, 500, 0, 0, 0, 0}};
  auto s = Service();
  const auto r = Run(s, Metric::kChatMessages,
                     {{"startDate", "2025-06-01"}, {"endDate", "2025-06-02"}, {"groupBy", "model"}},
                     kTwoGroups);
  const auto& rows = r.data.items;
  ASSERT_EQ(rows.size(), 6u);  // 2 buckets x (2 kept + "(other)")
  EXPECT_EQ(Column(rows, "model"),
            (std::vector<std::string>{"a", "d", "(other)", "a", "d", "(other)"}));
  EXPECT_EQ(Int(rows[2], "messages"), 5);  // b
  EXPECT_EQ(Int(rows[4], "messages"), 0);  // d on 06-02: dense
  EXPECT_EQ(Int(rows[5], "messages"), 5);  // c
  std::int64_t sum = 0;
  for (const auto& row : rows) sum += Int(row, "messages");
  EXPECT_EQ(sum, Int(*r.summary, "messages"));
  EXPECT_EQ(sum, 25);

  // chat/tokens ranks by tokens: c (500) and a (90) stay; the folded average is derived exactly.
  const auto t = Run(s, Metric::kChatTokens,
                     {{"startDate", "2025-06-01"}, {"endDate", "2025-06-02"}, {"groupBy", "model"}},
                     kTwoGroups);
  ASSERT_EQ(t.data.items.size(), 6u);
  EXPECT_EQ(Column(t.data.items, "model"),
            (std::vector<std::string>{"a", "c", "(other)", "a", "c", "(other)"}));
  EXPECT_EQ(Int(t.data.items[2], "tokens"), 110);  // b 50 + d 60
  EXPECT_EQ(Int(t.data.items[2], "messages"), 11);
  EXPECT_DOUBLE_EQ(Num(t.data.items[2], "avgTokensPerMessage"), 10.0);
  EXPECT_TRUE(IsNull(t.data.items[5], "avgTokensPerMessage"));
}

TEST_F(QueryServiceTest, GroupedSeriesWithinTheLimitHaveNoOtherGroup) {
  store_.messages = {{Ms("2025-06-01T00:00:00Z"), "p", "", 1, 1, 0, 0, 0, 0},
                     {Ms("2025-06-01T00:00:00Z"), "q", "", 2, 2, 0, 0, 0, 0}};
  auto s = Service();
  const auto r =
      Run(s, Metric::kChatMessages,
          {{"startDate", "2025-06-01"}, {"endDate", "2025-06-01"}, {"groupBy", "provider"}},
          kTwoGroups);
  EXPECT_EQ(Column(r.data.items, "provider"), (std::vector<std::string>{"p", "q"}));
}

TEST_F(QueryServiceTest, ByProviderFoldsTheSmallestWithSumsAndNullDistinctUsers) {
  store_.messages = {{0, "a", "", 10, 100, 0, 0, 4, 0},
                     {0, "b", "", 1, 10, 0, 0, 1, 0},
                     {0, "c", "", 2, 20, 0, 0, 2, 0},
                     {0, "d", "", 7, 70, 0, 0, 3, 0}};
  auto s = Service();
  const auto r = Run(s, Metric::kChatByProvider, {}, kTwoGroups);
  const auto& rows = r.data.items;
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(Column(rows, "provider"), (std::vector<std::string>{"a", "d", "(other)"}));
  EXPECT_EQ(Int(rows[2], "messages"), 3);
  EXPECT_EQ(Int(rows[2], "tokens"), 30);
  EXPECT_TRUE(IsNull(rows[2], "users"));
  EXPECT_EQ(Int(rows[1], "users"), 3);
  EXPECT_DOUBLE_EQ(Num(rows[2], "share"), 3.0 / 20.0);
  double shares = 0;
  for (const auto& row : rows) shares += Num(row, "share");
  EXPECT_DOUBLE_EQ(shares, 1.0);
}

TEST_F(QueryServiceTest, UsageByBucketFoldsProvidersPerBucket) {
  const auto d1 = Ms("2025-06-01T00:00:00Z"), d2 = Ms("2025-06-02T00:00:00Z");
  store_.messages = {{d1, "a", "", 5, 50, 30, 20, 2, 3},
                     {d1, "b", "", 1, 10, 0, 0, 1, 1},
                     {d1, "c", "", 1, 10, 0, 0, 1, 1},
                     {d2, "c", "", 1, 10, 6, 4, 1, 1},
                     {d2, "d", "", 3, 30, 0, 0, 1, 2}};
  auto s = Service();
  const auto r = Run(
      s, Metric::kProvidersUsage,
      {{"startDate", "2025-06-01"}, {"endDate", "2025-06-02"}, {"groupBy", "bucket"}}, kTwoGroups);
  const auto& rows = r.data.items;
  ASSERT_EQ(rows.size(), 6u);
  EXPECT_EQ(Column(rows, "provider"),
            (std::vector<std::string>{"a", "d", "(other)", "a", "d", "(other)"}));
  EXPECT_EQ(Int(rows[0], "users"), 2);
  EXPECT_EQ(Int(rows[0], "conversations"), 3);
  EXPECT_EQ(Int(rows[2], "messages"), 2);  // b + c on 06-01
  EXPECT_EQ(Int(rows[5], "inputTokens"), 6);
  EXPECT_TRUE(IsNull(rows[2], "users"));
  EXPECT_TRUE(IsNull(rows[5], "conversations"));
  EXPECT_EQ(Int(rows[3], "messages"), 0);
  EXPECT_EQ(Int(rows[3], "users"), 0);
}

TEST_F(QueryServiceTest, CostsFoldExactlyBeforeRounding) {
  auto s = Service();
  // Four models of 0.4 micro-dollars each, one of 5 micro-dollars and one of 3: folded, the
  // four add up to 1.6 micro-dollars, which rounds to 0.000002 (rounding each first gives 0).
  store_.cost_groups = {{0, "p", "big", 1, true, false, 1, 5'000, 1, 0, 0},
                        {0, "p", "mid", 1, true, false, 1, 3'000, 1, 0, 0}};
  for (const auto* m : {"m1", "m2", "m3", "m4"})
    store_.cost_groups.push_back({0, "p", m, 1, true, false, 1, 400, 1, 0, 0});
  store_.cost_groups.push_back({0, "q", "none", 0, false, false, 2, 0, 1, 0, 0});  // unpriced
  const auto r = Run(s, Metric::kProvidersCosts, {{"groupBy", "model"}}, kTwoGroups);
  const auto& rows = r.data.items;
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(Column(rows, "model"), (std::vector<std::string>{"big", "mid", "(other)"}));
  EXPECT_EQ(Str(rows[2], "provider"), "(other)");
  EXPECT_DOUBLE_EQ(Num(rows[2], "costUsd"), 0.000002);
  EXPECT_EQ(Int(rows[2], "messages"), 6);
  EXPECT_EQ(Int(rows[2], "unpricedMessages"), 2);

  const auto d1 = Ms("2025-06-01T00:00:00Z"), d2 = Ms("2025-06-02T00:00:00Z");
  store_.cost_groups = {{d1, "a", "x", 1, true, false, 1, 9'000, 1, 0, 0},
                        {d1, "b", "x", 1, true, false, 1, 400, 1, 0, 0},
                        {d2, "b", "y", 1, true, false, 1, 400, 1, 0, 0},
                        {d2, "c", "x", 1, true, false, 1, 7'000, 1, 0, 0},
                        {d2, "d", "x", 1, true, false, 1, 600, 1, 0, 0}};
  const auto by_bucket = Run(
      s, Metric::kProvidersCosts,
      {{"startDate", "2025-06-01"}, {"endDate", "2025-06-02"}, {"groupBy", "bucket"}}, kTwoGroups);
  const auto& b = by_bucket.data.items;
  ASSERT_EQ(b.size(), 6u);
  EXPECT_EQ(Column(b, "provider"),
            (std::vector<std::string>{"a", "c", "(other)", "a", "c", "(other)"}));
  EXPECT_DOUBLE_EQ(Num(b[2], "costUsd"), 0.0);       // b 0.4 micro-dollars
  EXPECT_DOUBLE_EQ(Num(b[5], "costUsd"), 0.000001);  // b 0.4 + d 0.6
  EXPECT_EQ(Int(b[5], "messages"), 2);
}

TEST_F(QueryServiceTest, PerformanceFoldsWithTheMeanAndNullPercentiles) {
  store_.latencies = {{"a", "", 10, 100, 90, 200, 300},
                      {"b", "", 1, 50, 50, 50, 50},
                      {"c", "", 3, 10, 10, 10, 10},
                      {"d", "", 8, 20, 20, 20, 20}};
  auto s = Service();
  const auto r = Run(s, Metric::kProvidersPerformance, {}, kTwoGroups);
  const auto& rows = r.data.items;
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(Column(rows, "provider"), (std::vector<std::string>{"a", "d", "(other)"}));
  EXPECT_EQ(Int(rows[2], "messages"), 4);
  EXPECT_DOUBLE_EQ(Num(rows[2], "avgLatencyMs"), (50.0 + 30.0) / 4.0);
  EXPECT_TRUE(IsNull(rows[2], "p50LatencyMs"));
  EXPECT_TRUE(IsNull(rows[2], "p99LatencyMs"));
}

TEST_F(QueryServiceTest, PlansFoldWithExactUserSums) {
  store_.plans = {{"free", 50}, {"pro", 20}, {"team", 5}, {"legacy", 3}};
  auto s = Service();
  const auto r = Run(s, Metric::kUsersByPlan, {}, kTwoGroups);
  ASSERT_EQ(r.data.items.size(), 3u);
  EXPECT_EQ(Column(r.data.items, "plan"), (std::vector<std::string>{"free", "pro", "(other)"}));
  EXPECT_EQ(Int(r.data.items[2], "users"), 8);
}

TEST_F(QueryServiceTest, RevenueFoldsMoneyOnlyWithinOneCurrency) {
  store_.payments = {{"a", "USD", 900'000, 9},
                     {"b", "USD", 800'000, 8},
                     {"c", "USD", 1'050, 1},
                     {"d", "USD", 1'050, 1}};
  store_.outcomes = {19, 0};
  auto s = Service();
  const auto by_plan = Run(s, Metric::kRevenueByPlan, {}, kTwoGroups);
  ASSERT_EQ(by_plan.data.items.size(), 3u);
  const auto& other = by_plan.data.items[2];
  EXPECT_EQ(Str(other, "plan"), "(other)");
  EXPECT_EQ(Str(other, "currency"), "USD");
  EXPECT_DOUBLE_EQ(Num(other, "revenue"), 0.21);  // 0.105 + 0.105, not 0.11 + 0.11
  EXPECT_EQ(Int(other, "payments"), 2);

  store_.payments = {{"", "USD", 900'000, 9},
                     {"", "EUR", 800'000, 8},
                     {"", "GBP", 1'000, 1},
                     {"", "JPY", 1'000, 1}};
  const auto total = Run(s, Metric::kRevenueTotal, {}, kTwoGroups);
  ASSERT_EQ(total.data.items.size(), 3u);
  EXPECT_EQ(Str(total.data.items[2], "currency"), "(other)");
  EXPECT_TRUE(IsNull(total.data.items[2], "revenue"));
  EXPECT_EQ(Int(total.data.items[2], "payments"), 2);
  EXPECT_EQ(Int(*total.summary, "payments"), 19);
}

TEST_F(QueryServiceTest, MrrKeepsTheCurrenciesWithMostCustomersExact) {
  using K = BillingEvent::Kind;
  const auto may = Ms("2025-05-01T00:00:00Z");
  // USD: a, b; EUR: c, then a moves from USD to it on 06-02; GBP: d; JPY: e. Ranked by paying
  // customers: EUR 2, USD 2, GBP 1, JPY 1; kept EUR and USD.
  store_.billing = {{"a", K::kSubscribed, may, "pro", "", 0},
                    {"a", K::kPayment, may, "pro", "USD", 100'000},
                    {"a", K::kPayment, Ms("2025-06-02T12:00:00Z"), "pro", "EUR", 70'000},
                    {"b", K::kSubscribed, may, "pro", "", 0},
                    {"b", K::kPayment, may, "pro", "USD", 50'000},
                    {"c", K::kSubscribed, may, "pro", "", 0},
                    {"c", K::kPayment, may, "pro", "EUR", 30'000},
                    {"d", K::kSubscribed, may, "pro", "", 0},
                    {"d", K::kPayment, may, "pro", "GBP", 20'000},
                    {"e", K::kSubscribed, may, "pro", "", 0},
                    {"e", K::kPayment, may, "pro", "JPY", 10'000}};
  auto s = Service();
  const std::map<std::string, std::string> range = {{"startDate", "2025-06-01"},
                                                    {"endDate", "2025-06-02"}};
  const auto all = Run(s, Metric::kRevenueMrr, range);
  const auto folded = Run(s, Metric::kRevenueMrr, range, kTwoGroups);
  ASSERT_EQ(all.data.items.size(), 8u);     // 2 buckets x 4 currencies
  ASSERT_EQ(folded.data.items.size(), 6u);  // 2 buckets x (2 + "(other)")
  EXPECT_EQ(Column(folded.data.items, "currency"),
            (std::vector<std::string>{"EUR", "USD", "(other)", "EUR", "USD", "(other)"}));
  // The kept currencies are the unfolded answer's rows, field by field.
  const auto fields = {"mrr",        "newMrr",         "expansionMrr", "contractionMrr",
                       "churnedMrr", "reactivationMrr"};
  for (const auto& [f, a] :
       std::vector<std::pair<std::size_t, std::size_t>>{{0, 0}, {1, 3}, {3, 4}, {4, 7}}) {
    ASSERT_EQ(Str(folded.data.items[f], "currency"), Str(all.data.items[a], "currency"));
    for (const auto* field : fields) {
      EXPECT_DOUBLE_EQ(Num(folded.data.items[f], field), Num(all.data.items[a], field)) << field;
    }
  }
  EXPECT_DOUBLE_EQ(Num(folded.data.items[4], "churnedMrr"), 10);  // a left USD
  EXPECT_DOUBLE_EQ(Num(folded.data.items[3], "newMrr"), 7);       // ... for EUR
  for (const auto* field : fields) EXPECT_TRUE(IsNull(folded.data.items[5], field)) << field;

  const auto churn = Run(s, Metric::kRevenueChurnRate, range, kTwoGroups);
  const auto& mrr = *churn.data.items[1].Find("mrr");
  EXPECT_EQ(mrr.keys, (std::vector<std::string>{"EUR", "USD", "(other)"}));
  EXPECT_TRUE(IsNull(*mrr.Find("(other)"), "startMrr"));
  EXPECT_TRUE(IsNull(*mrr.Find("(other)"), "grossMrrChurnRate"));
  EXPECT_DOUBLE_EQ(Num(*mrr.Find("USD"), "churnedMrr"), 10);
  EXPECT_EQ(Int(churn.data.items[1], "customersAtStart"), 5);
}

TEST_F(QueryServiceTest, PopularityKeepsItsOwnLimit) {
  store_.models = {{"p", "m1", 10, 4}, {"p", "m2", 30, 5}, {"q", "m3", 20, 6}, {"q", "m4", 20, 1}};
  auto s = Service();
  EXPECT_EQ(Run(s, Metric::kProvidersPopularity, {{"limit", "3"}}, kTwoGroups).data.items.size(),
            4u);
}

}  // namespace
}  // namespace app
