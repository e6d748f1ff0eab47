#include "app/revenue_model.hpp"

#include <algorithm>
#include <set>

namespace app {

double MrrToMoney(Units units) {
  constexpr Units kPerCent = Units{100} * kMrrUnitsPerAmountUnit;  // 10^-2 / (10^-4 / 27720)
  const bool negative = units < 0;
  const Units magnitude = negative ? -units : units;
  const Units cents = (magnitude + kPerCent / 2) / kPerCent;
  const double value = static_cast<double>(static_cast<std::int64_t>(cents)) / 100.0;
  return negative ? -value : value;
}

namespace {

struct CustomerState {
  bool subscribed = false;
  bool paid = false;
  std::size_t currency = 0;
  Units payment_mrr = 0;       // latest payment / its plan's interval, in MRR units
  std::vector<bool> ever_positive;  // per currency, over every state so far

  Units Mrr() const { return subscribed && paid ? payment_mrr : 0; }
};

}  // namespace

RevenueTimeline ReplayRevenue(const std::vector<BillingEvent>& history,
                              const domain::PlanCatalog& plans,
                              const std::vector<std::int64_t>& boundaries) {
  RevenueTimeline out;
  std::set<std::string> currencies;
  for (const auto& e : history) {
    if (e.kind == BillingEvent::Kind::kPayment) currencies.insert(e.currency);
  }
  out.currencies.assign(currencies.begin(), currencies.end());
  const auto currency_index = [&](const std::string& c) {
    return static_cast<std::size_t>(std::ranges::lower_bound(out.currencies, c) -
                                    out.currencies.begin());
  };
  const std::size_t steps = boundaries.size() - 1;
  const std::size_t ncur = out.currencies.size();
  out.steps.assign(steps, std::vector<MrrStep>(ncur));
  out.subscribed_at_start.assign(steps, 0);
  out.churned_customers.assign(steps, 0);

  std::size_t i = 0;
  while (i < history.size()) {
    std::size_t j = i;
    while (j < history.size() && history[j].customer == history[i].customer) ++j;
    CustomerState state;
    state.ever_positive.assign(ncur, false);
    std::size_t next = i;
    // State at the previous boundary.
    Units prev_mrr = 0;
    std::size_t prev_currency = 0;
    bool prev_subscribed = false;
    std::vector<bool> prev_ever;
    for (std::size_t b = 0; b < boundaries.size(); ++b) {
      while (next < j && history[next].ts_ms < boundaries[b]) {
        const auto& e = history[next++];
        switch (e.kind) {
          case BillingEvent::Kind::kSubscribed: state.subscribed = true; break;
          case BillingEvent::Kind::kCancelled: state.subscribed = false; break;
          case BillingEvent::Kind::kPayment:
            state.paid = true;
            state.currency = currency_index(e.currency);
            state.payment_mrr = e.amount * (kMrrUnitsPerAmountUnit / plans.IntervalMonths(e.plan));
            break;
        }
        if (state.Mrr() > 0) state.ever_positive[state.currency] = true;
      }
      const Units mrr = state.Mrr();
      if (b > 0) {
        const std::size_t k = b - 1;
        if (prev_subscribed) {
          ++out.subscribed_at_start[k];
          if (!state.subscribed) ++out.churned_customers[k];
        }
        for (std::size_t c = 0; c < ncur; ++c) {
          const Units before = prev_currency == c ? prev_mrr : 0;
          const Units after = state.currency == c ? mrr : 0;
          auto& s = out.steps[k][c];
          s.start += before;
          s.end += after;
          if (before == 0 && after > 0) {
            (prev_ever[c] ? s.reactivation : s.new_mrr) += after;
          } else if (before > 0 && after == 0) {
            s.churned += before;
          } else if (after > before) {
            s.expansion += after - before;
          } else if (after < before) {
            s.contraction += before - after;
          }
        }
      }
      prev_mrr = mrr;
      prev_currency = state.currency;
      prev_subscribed = state.subscribed;
      prev_ever = state.ever_positive;
    }
    i = j;
  }
  return out;
}

}  // namespace app
