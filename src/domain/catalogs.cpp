#include "domain/catalogs.hpp"

#include <fmt/format.h>
#include <simdjson.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <tuple>

#include "domain/analytics_query.hpp"
#include "domain/decimal.hpp"

namespace domain {
namespace {

namespace dom = simdjson::dom;

base::Error Bad(std::string message) {
  return base::Error::InvalidArgument(std::move(message));
}

std::optional<std::int64_t> DecimalOf(const dom::element& v, int scale) {
  std::string_view text;
  if (v.get_string().get(text) == simdjson::SUCCESS) return ParseDecimalUnits(text, scale);
  double d = 0;
  if (v.is_number() && v.get_double().get(d) == simdjson::SUCCESS && d >= 0 && d < 1e9) {
    return static_cast<std::int64_t>(std::llround(d * std::pow(10.0, scale)));
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::int64_t> ParseDecimalUnits(std::string_view text, int scale) {
  if (text.starts_with('-')) return std::nullopt;
  const auto value = ParseDecimal(text, scale);
  if (!value || *value > INT64_MAX) return std::nullopt;
  return static_cast<std::int64_t>(*value);
}

base::Result<PlanCatalog> PlanCatalog::Parse(std::string_view json) {
  dom::parser parser;
  dom::element root;
  if (parser.parse(json.data(), json.size()).get(root) != simdjson::SUCCESS) {
    return base::Fail(Bad("the plan catalog is not valid JSON"));
  }
  dom::array plans;
  if (root["plans"].get_array().get(plans) != simdjson::SUCCESS) {
    return base::Fail(Bad("the plan catalog needs a \"plans\" array"));
  }
  PlanCatalog catalog;
  std::size_t index = 0;
  for (const auto plan : plans) {
    std::string_view id;
    std::int64_t months = 0;
    if (plan["id"].get_string().get(id) != simdjson::SUCCESS || id.empty() ||
        plan["billingIntervalMonths"].get_int64().get(months) != simdjson::SUCCESS ||
        months < 1 || months > 12 || 12 % months != 0) {
      return base::Fail(Bad(fmt::format(
          "plans[{}] needs an \"id\" and \"billingIntervalMonths\" of 1, 2, 3, 4, 6 or 12", index)));
    }
    catalog.months_[std::string(id)] = static_cast<int>(months);
    ++index;
  }
  return catalog;
}

int PlanCatalog::IntervalMonths(std::string_view plan_id) const {
  const auto it = months_.find(plan_id);
  return it == months_.end() ? 1 : it->second;
}

base::Result<PriceTable> PriceTable::Parse(std::string_view json) {
  dom::parser parser;
  dom::element root;
  if (parser.parse(json.data(), json.size()).get(root) != simdjson::SUCCESS) {
    return base::Fail(Bad("the model price table is not valid JSON"));
  }
  dom::array prices;
  if (root["prices"].get_array().get(prices) != simdjson::SUCCESS) {
    return base::Fail(Bad("the model price table needs a \"prices\" array"));
  }
  PriceTable table;
  std::size_t index = 0;
  for (const auto entry : prices) {
    const auto bad = [&](std::string_view what) {
      return base::Fail(Bad(fmt::format("prices[{}]: {}", index, what)));
    };
    ModelPrice p;
    std::string_view provider, model, from;
    if (entry["provider"].get_string().get(provider) != simdjson::SUCCESS || provider.empty() ||
        entry["model"].get_string().get(model) != simdjson::SUCCESS || model.empty()) {
      return bad("\"provider\" and \"model\" are required strings");
    }
    p.provider = provider;
    p.model = model;
    if (entry["effectiveFrom"].get_string().get(from) != simdjson::SUCCESS) {
      return bad("\"effectiveFrom\" (a date, 2025-01-31) is required");
    }
    const auto start = ParseRangeBound(from, TimeZone::Utc(), false);
    if (!start || from.size() != 10) return bad("\"effectiveFrom\" must be a date such as 2025-01-31");
    p.effective_from = *start;
    const auto price = [&](const char* key, std::optional<std::int64_t>& out) -> bool {
      dom::element v;
      if (entry[key].get(v) != simdjson::SUCCESS || v.is_null()) return true;
      out = DecimalOf(v, 9);
      return out.has_value();
    };
    if (!price("inputPerMillion", p.input_per_million) ||
        !price("outputPerMillion", p.output_per_million) ||
        !price("blendedPerMillion", p.blended_per_million)) {
      return bad("prices must be non-negative decimals (USD per 1M tokens, at most 9 decimals)");
    }
    if (p.input_per_million.has_value() != p.output_per_million.has_value()) {
      return bad("\"inputPerMillion\" and \"outputPerMillion\" go together");
    }
    if (!p.input_per_million && !p.blended_per_million) {
      return bad("give \"inputPerMillion\" and \"outputPerMillion\", or \"blendedPerMillion\"");
    }
    table.prices_.push_back(std::move(p));
    ++index;
  }
  std::ranges::sort(table.prices_, {}, [](const ModelPrice& p) {
    return std::tie(p.provider, p.model, p.effective_from);
  });
  for (std::size_t i = 1; i < table.prices_.size(); ++i) {
    const auto& a = table.prices_[i - 1];
    const auto& b = table.prices_[i];
    if (a.provider == b.provider && a.model == b.model && a.effective_from == b.effective_from) {
      return base::Fail(Bad(fmt::format("two prices for {}/{} from the same date", a.provider,
                                        a.model)));
    }
  }
  return table;
}

const ModelPrice* PriceTable::At(std::string_view provider, std::string_view model,
                                 base::TimePoint t) const {
  const ModelPrice* found = nullptr;
  for (const auto& p : prices_) {
    if (p.provider == provider && p.model == model && p.effective_from <= t) found = &p;
  }
  return found;
}

std::vector<std::int64_t> PriceTable::Breakpoints() const {
  std::vector<std::int64_t> out;
  for (const auto& p : prices_) out.push_back(p.effective_from.time_since_epoch().count());
  std::ranges::sort(out);
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

}  // namespace domain
