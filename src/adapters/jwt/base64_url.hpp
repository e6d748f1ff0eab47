#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace adapters::jwt {

/// Base64url without padding (RFC 4648 section 5), the encoding of every JWS segment and of the
/// binary members of a JWK.
std::string EncodeBase64Url(std::string_view bytes);

/// Decodes canonical unpadded base64url into `out` (replacing its contents). Refuses '=', '+',
/// '/', whitespace, a length of 4n+1 and non-zero unused trailing bits, so each byte string has
/// exactly one accepted spelling. On false, `out` holds unspecified bytes.
bool DecodeBase64Url(std::string_view text, std::string& out);

/// As above, returning the bytes or nothing.
std::optional<std::string> DecodeBase64Url(std::string_view text);

}  // namespace adapters::jwt
