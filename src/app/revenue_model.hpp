#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "app/ports/analytics_store.hpp"
#include "domain/catalogs.hpp"

namespace app {

/// MRR in exact units: 1 unit = 10^-4 / 27720 of a currency unit, so an amount with 4
/// decimals divided by any billing interval of 1..12 months stays an integer.
inline constexpr std::int64_t kMrrUnitsPerAmountUnit = 27720;  // lcm(1..12)
/// Rounds MRR units to cents, half away from zero, as a currency amount.
double MrrToMoney(Units units);

/// MRR movements of one currency between two consecutive boundaries.
struct MrrStep {
  Units start = 0, end = 0;
  Units new_mrr = 0, expansion = 0, contraction = 0, churned = 0, reactivation = 0;
};

/// State of all customers at boundaries B0 < B1 < ... < Bn ("at B" = after every event
/// strictly before B).
struct RevenueTimeline {
  std::vector<std::string> currencies;  ///< every currency of a payment in the history, sorted
  /// steps[k][c]: from B_k to B_{k+1} in currencies[c]; k = 0..n-1.
  std::vector<std::vector<MrrStep>> steps;
  /// Customers subscribed at B_k, and of those, not subscribed at B_{k+1}.
  std::vector<std::uint64_t> subscribed_at_start, churned_customers;
};

/// Replays each customer's billing history (grouped by customer, each by time, id) through the
/// subscription state machine of docs/metrics.md. Pure; `boundaries` ascending, size >= 2.
RevenueTimeline ReplayRevenue(const std::vector<BillingEvent>& history,
                              const domain::PlanCatalog& plans,
                              const std::vector<std::int64_t>& boundaries);

}  // namespace app
