#pragma once

#include <string>
#include <string_view>

namespace base {

/// Appends `s` as a JSON string literal (quotes, escapes, control characters as \uXXXX).
/// Bytes >= 0x80 are copied as they are.
void AppendJsonString(std::string& out, std::string_view s);

}  // namespace base
