#include "app/revenue_model.hpp"

#include <algorithm>
#include <set>

namespace app {

double MrrToMoney(Units units) {
  // A cent is 10^-2 / (10^-4 / 27720) MRR units.
  return static_cast<double>(domain::DivideRounded(units, Units{100} * kMrrUnitsPerAmountUnit)) / 100.0;
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

  // Per customer, the state changes only at the boundaries right after their events; between
  // two such boundaries every step is "no movement, same MRR", added in O(1) per span through
  // difference arrays. Cost: O(events x log(boundaries) + boundaries x currencies).
  std::vector<std::vector<Units>> same_mrr(ncur, std::vector<Units>(steps + 1, 0));
  std::vector<std::int64_t> same_subscribed(steps + 1, 0);
  const auto add_span = [&](std::size_t from, std::size_t to, const CustomerState& st) {
    if (from >= to) return;
    const Units m = st.Mrr();
    if (m != 0) {
      same_mrr[st.currency][from] += m;
      same_mrr[st.currency][to] -= m;
    }
    if (st.subscribed) {
      ++same_subscribed[from];
      --same_subscribed[to];
    }
  };
  const auto apply = [&](CustomerState& st, const BillingEvent& e) {
    switch (e.kind) {
      case BillingEvent::Kind::kSubscribed: st.subscribed = true; break;
      case BillingEvent::Kind::kCancelled: st.subscribed = false; break;
      case BillingEvent::Kind::kPayment:
        st.paid = true;
        st.currency = currency_index(e.currency);
        st.payment_mrr = e.amount * (kMrrUnitsPerAmountUnit / plans.IntervalMonths(e.plan));
        break;
    }
    if (st.Mrr() > 0) st.ever_positive[st.currency] = true;
  };
  // The first boundary after an instant: events at or after B_k are seen from B_(k+1) on.
  const auto first_boundary_after = [&](std::int64_t ts) {
    return static_cast<std::size_t>(std::ranges::upper_bound(boundaries, ts) - boundaries.begin());
  };

  std::size_t i = 0;
  while (i < history.size()) {
    std::size_t j = i;
    while (j < history.size() && history[j].customer == history[i].customer) ++j;
    CustomerState state;
    state.ever_positive.assign(ncur, false);
    std::size_t next = i;
    while (next < j && first_boundary_after(history[next].ts_ms) == 0) apply(state, history[next++]);
    std::size_t at = 0;  // `state` is the state at boundary `at`
    while (next < j) {
      const std::size_t change = first_boundary_after(history[next].ts_ms);
      if (change >= boundaries.size()) break;  // after the last boundary
      add_span(at, change - 1, state);          // steps at .. change-2 move nothing
      const CustomerState before = state;
      while (next < j && first_boundary_after(history[next].ts_ms) == change) apply(state, history[next++]);
      // The step from B_(change-1) to B_change.
      const std::size_t k = change - 1;
      if (before.subscribed) {
        ++out.subscribed_at_start[k];
        if (!state.subscribed) ++out.churned_customers[k];
      }
      const Units before_mrr = before.Mrr();
      const Units after_mrr = state.Mrr();
      for (std::size_t c = 0; c < ncur; ++c) {
        const Units b = before.currency == c ? before_mrr : 0;
        const Units a = state.currency == c ? after_mrr : 0;
        auto& s = out.steps[k][c];
        s.start += b;
        s.end += a;
        if (b == 0 && a > 0) {
          (before.ever_positive[c] ? s.reactivation : s.new_mrr) += a;
        } else if (b > 0 && a == 0) {
          s.churned += b;
        } else if (a > b) {
          s.expansion += a - b;
        } else if (a < b) {
          s.contraction += b - a;
        }
      }
      at = change;
    }
    add_span(at, steps, state);
    i = j;
  }
  Units running_subscribed = 0;
  std::vector<Units> running(ncur, 0);
  for (std::size_t k = 0; k < steps; ++k) {
    running_subscribed += same_subscribed[k];
    out.subscribed_at_start[k] += static_cast<std::uint64_t>(running_subscribed);
    for (std::size_t c = 0; c < ncur; ++c) {
      running[c] += same_mrr[c][k];
      out.steps[k][c].start += running[c];
      out.steps[k][c].end += running[c];
    }
  }
  return out;
}

}  // namespace app
