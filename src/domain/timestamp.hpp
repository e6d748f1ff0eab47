#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "base/clock.hpp"

namespace domain {

/// Parses an ISO 8601 date-time with a mandatory offset (`Z`, `+HH:MM`, `+HHMM`), e.g.
/// `2025-01-31T12:00:00.123+02:00`. Fractions beyond milliseconds are truncated. Returns
/// nullopt for anything else (no offset, out-of-range fields, trailing bytes). Pure, no locale.
std::optional<base::TimePoint> ParseIsoDateTime(std::string_view text);

/// Formats as `YYYY-MM-DDTHH:MM:SS.mmmZ`.
std::string FormatIsoUtc(base::TimePoint t);

}  // namespace domain
