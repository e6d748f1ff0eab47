#include "domain/decimal.hpp"

#include <algorithm>

namespace domain {

std::optional<Int128> ParseDecimal(std::string_view text, int scale) {
  bool negative = false;
  if (!text.empty() && text.front() == '-') {
    negative = true;
    text.remove_prefix(1);
  }
  constexpr Int128 kLimit = (Int128{1} << 120);
  Int128 value = 0;
  int decimals = -1;
  bool digits = false;
  for (const char c : text) {
    if (c == '.') {
      if (decimals >= 0) return std::nullopt;
      decimals = 0;
      continue;
    }
    if (c < '0' || c > '9') return std::nullopt;
    digits = true;
    if (decimals >= 0 && ++decimals > scale) {
      if (c != '0') return std::nullopt;
      --decimals;
      continue;
    }
    if (value > kLimit) return std::nullopt;
    value = value * 10 + (c - '0');
  }
  if (!digits) return std::nullopt;
  for (int d = std::max(decimals, 0); d < scale; ++d) {
    if (value > kLimit) return std::nullopt;
    value *= 10;
  }
  return negative ? -value : value;
}

std::int64_t DivideRounded(Int128 value, Int128 step) {
  const bool negative = value < 0;
  const Int128 magnitude = negative ? -value : value;
  const auto q = static_cast<std::int64_t>((magnitude + step / 2) / step);
  return negative ? -q : q;
}

}  // namespace domain
