#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/clock.hpp"
#include "base/result.hpp"

namespace domain {

/// Billing intervals of plans, from the plan catalog file
/// (`{"plans": [{"id": "pro_yearly", "billingIntervalMonths": 12}]}`). Immutable after Parse.
class PlanCatalog {
 public:
  /// Fails with kInvalidArgument naming the bad entry.
  static base::Result<PlanCatalog> Parse(std::string_view json);
  /// Months per billing period of `plan_id`; 1 for a plan the catalog does not list.
  int IntervalMonths(std::string_view plan_id) const;
  std::size_t size() const { return months_.size(); }

 private:
  std::map<std::string, int, std::less<>> months_;
};

/// A list price in force from `effective_from` (00:00 UTC) until the next entry of the same
/// (provider, model). Prices are nano-dollars per 1M tokens (exact for up to 9 decimals).
struct ModelPrice {
  std::string provider, model;
  base::TimePoint effective_from;
  std::optional<std::int64_t> input_per_million;    ///< nano-USD
  std::optional<std::int64_t> output_per_million;   ///< nano-USD
  std::optional<std::int64_t> blended_per_million;  ///< nano-USD
};

/// The model price table (`{"prices": [...]}`, see docs/metrics.md). Immutable after Parse.
class PriceTable {
 public:
  static base::Result<PriceTable> Parse(std::string_view json);
  /// The entry of (provider, model) in force at `t`, or nullptr.
  const ModelPrice* At(std::string_view provider, std::string_view model, base::TimePoint t) const;
  /// Every distinct effective-from instant, ascending, as epoch ms (price epoch boundaries).
  std::vector<std::int64_t> Breakpoints() const;
  std::size_t size() const { return prices_.size(); }

 private:
  std::vector<ModelPrice> prices_;  // by (provider, model, effective_from)
};

/// Parses a non-negative decimal (`"2.50"`, `2.5`) into units of 10^-scale; nullopt when it
/// is not one or has more decimals than `scale`.
std::optional<std::int64_t> ParseDecimalUnits(std::string_view text, int scale);

}  // namespace domain
