#pragma once

#include <string>
#include <string_view>

namespace base {

/// Appends `s` as a JSON string literal (quotes, escapes, control characters as \uXXXX).
/// Bytes >= 0x80 are copied as they are.
void AppendJsonString(std::string& out, std::string_view s);

/// `s` with every byte sequence that is not well-formed UTF-8 (RFC 3629: no overlongs, no
/// surrogates, nothing above U+10FFFF) replaced by U+FFFD, so text that echoes client input
/// stays valid in a JSON answer.
std::string ValidUtf8(std::string_view s);

}  // namespace base
