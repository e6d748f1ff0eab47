#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace domain {

/// An exact decimal wider than 64 bits: sums of many amounts, costs priced per token.
__extension__ using Int128 = __int128;  // GCC and Clang

/// Parses decimal text (`-12.3400`, `.5`, `7`) into units of 10^-scale. Nullopt for anything
/// else, for non-zero digits beyond `scale` decimals, and past the 128-bit range.
std::optional<Int128> ParseDecimal(std::string_view text, int scale);

/// `value / step`, rounded half away from zero (exact: no floating point).
std::int64_t DivideRounded(Int128 value, Int128 step);

}  // namespace domain
