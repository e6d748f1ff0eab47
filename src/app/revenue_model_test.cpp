#include "app/revenue_model.hpp"

#include <gtest/gtest.h>

namespace app {
namespace {

using Kind = BillingEvent::Kind;

// Money in amount units (10^-4) for readable cases.
Units Amount(double major) { return static_cast<Units>(major * 10'000 + 0.5); }
Units Mrr(double major, int interval = 1) { return Amount(major) * (kMrrUnitsPerAmountUnit / interval); }

BillingEvent Ev(std::string customer, Kind kind, std::int64_t day, double amount = 0,
                std::string currency = "USD", std::string plan = "pro") {
  return {std::move(customer), kind, day * 86'400'000, std::move(plan), std::move(currency), Amount(amount)};
}

domain::PlanCatalog Plans() {
  return *domain::PlanCatalog::Parse(
      R"({"plans": [{"id": "pro", "billingIntervalMonths": 1}, {"id": "pro_yearly", "billingIntervalMonths": 12}]})");
}

std::vector<std::int64_t> Days(std::initializer_list<std::int64_t> days) {
  std::vector<std::int64_t> out;
  for (const auto d : days) out.push_back(d * 86'400'000);
  return out;
}

TEST(MrrToMoneyTest, RoundsHalfAwayFromZeroOnlyAtTheEnd) {
  EXPECT_DOUBLE_EQ(MrrToMoney(Mrr(199.99, 12)), 16.67);  // 16.665833...
  EXPECT_DOUBLE_EQ(MrrToMoney(Mrr(0.005)), 0.01);
  EXPECT_DOUBLE_EQ(MrrToMoney(-Mrr(0.005)), -0.01);
  // Three yearly customers at 100.00: 3 x 8.3333... = 25.00 exactly, not 3 x 8.33.
  EXPECT_DOUBLE_EQ(MrrToMoney(3 * Mrr(100, 12)), 25.0);
}

TEST(ReplayRevenueTest, ClassifiesEveryMovementAndKeepsTheIdentity) {
  // Boundaries at days 10, 20, 30, 40, 50 (four steps).
  const std::vector<BillingEvent> history = {
      // a: new in step 0, expands in step 1, contracts in step 2.
      Ev("a", Kind::kSubscribed, 11), Ev("a", Kind::kPayment, 11, 10),
      Ev("a", Kind::kPayment, 25, 30), Ev("a", Kind::kPayment, 35, 20),
      // b: paying since before the range, churns in step 1, reactivates in step 3 (no new
      // payment: the last payment's amount comes back).
      Ev("b", Kind::kSubscribed, 1), Ev("b", Kind::kPayment, 1, 50),
      Ev("b", Kind::kCancelled, 22), Ev("b", Kind::kSubscribed, 45),
      // c: yearly plan, new in step 2.
      Ev("c", Kind::kSubscribed, 31), Ev("c", Kind::kPayment, 31, 120, "USD", "pro_yearly"),
      // d: subscribed but never paid: counts as a customer, no MRR.
      Ev("d", Kind::kSubscribed, 5),
  };
  const auto t = ReplayRevenue(history, Plans(), Days({10, 20, 30, 40, 50}));
  ASSERT_EQ(t.currencies, std::vector<std::string>{"USD"});
  ASSERT_EQ(t.steps.size(), 4u);
  const auto& s0 = t.steps[0][0];
  EXPECT_EQ(s0.start, Mrr(50));
  EXPECT_EQ(s0.new_mrr, Mrr(10));
  EXPECT_EQ(s0.end, Mrr(60));
  const auto& s1 = t.steps[1][0];
  EXPECT_EQ(s1.expansion, Mrr(20));
  EXPECT_EQ(s1.churned, Mrr(50));
  EXPECT_EQ(s1.end, Mrr(30));
  const auto& s2 = t.steps[2][0];
  EXPECT_EQ(s2.contraction, Mrr(10));
  EXPECT_EQ(s2.new_mrr, Mrr(120, 12));
  EXPECT_EQ(s2.end, Mrr(20) + Mrr(10));
  const auto& s3 = t.steps[3][0];
  EXPECT_EQ(s3.reactivation, Mrr(50));
  EXPECT_EQ(s3.new_mrr, 0);
  for (const auto& step : t.steps) {
    const auto& s = step[0];
    EXPECT_EQ(s.start + s.new_mrr + s.expansion + s.reactivation - s.contraction - s.churned, s.end);
  }
  EXPECT_EQ(t.subscribed_at_start, (std::vector<std::uint64_t>{2, 3, 2, 3}));  // b, d | a, b, d | a, d | a, c, d
  EXPECT_EQ(t.churned_customers, (std::vector<std::uint64_t>{0, 1, 0, 0}));
}

TEST(ReplayRevenueTest, PositiveOnlyInsideAnEarlierStepMakesALaterReturnAReactivation) {
  // Subscribed and cancelled between two boundaries: never seen above 0 at a boundary, but it
  // was above 0, so coming back is a reactivation, not new.
  const std::vector<BillingEvent> history = {
      Ev("a", Kind::kSubscribed, 11), Ev("a", Kind::kPayment, 11, 10), Ev("a", Kind::kCancelled, 15),
      Ev("a", Kind::kSubscribed, 25)};
  const auto t = ReplayRevenue(history, Plans(), Days({10, 20, 30}));
  EXPECT_EQ(t.steps[0][0].new_mrr, 0);
  EXPECT_EQ(t.steps[0][0].end, 0);
  EXPECT_EQ(t.steps[1][0].reactivation, Mrr(10));
  EXPECT_EQ(t.steps[1][0].new_mrr, 0);
}

TEST(ReplayRevenueTest, EventsOnABoundaryBelongToTheLaterStep) {
  const std::vector<BillingEvent> history = {Ev("a", Kind::kSubscribed, 20), Ev("a", Kind::kPayment, 20, 10)};
  const auto t = ReplayRevenue(history, Plans(), Days({10, 20, 30}));
  EXPECT_EQ(t.steps[0][0].end, 0);
  EXPECT_EQ(t.steps[1][0].new_mrr, Mrr(10));
}

TEST(ReplayRevenueTest, ACurrencySwitchChurnsTheOldCurrencyAndAddsTheNew) {
  const std::vector<BillingEvent> history = {
      Ev("a", Kind::kSubscribed, 1), Ev("a", Kind::kPayment, 1, 10, "USD"),
      Ev("a", Kind::kPayment, 15, 9, "EUR")};
  const auto t = ReplayRevenue(history, Plans(), Days({10, 20}));
  ASSERT_EQ(t.currencies, (std::vector<std::string>{"EUR", "USD"}));
  EXPECT_EQ(t.steps[0][1].churned, Mrr(10));
  EXPECT_EQ(t.steps[0][0].new_mrr, Mrr(9));
}

}  // namespace
}  // namespace app
