#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/clock.hpp"
#include "base/result.hpp"

namespace app {

/// What a valid bearer token says about its holder.
struct VerifiedToken {
  std::string subject;             ///< the `sub` claim ("" when absent)
  std::vector<std::string> roles;  ///< values of the configured role claim (string or array)
  base::TimePoint expires_at;      ///< the `exp` claim
};

/// Checks bearer tokens (signature with a pinned algorithm, expiry, issuer, audience).
/// Implementations are thread-safe and never fetch anything a token points at.
class TokenVerifier {
 public:
  virtual ~TokenVerifier() = default;
  /// kUnauthenticated for any token that is not valid now; the message names the reason
  /// ("expired", "bad signature", ...) and never contains the token.
  virtual base::Result<VerifiedToken> Verify(std::string_view token) const = 0;
};

/// Checks API keys against a configured set of hashed keys. Thread-safe.
class ApiKeyVerifier {
 public:
  virtual ~ApiKeyVerifier() = default;
  /// The id of the configured key that `key` is, or nothing. Constant time in the key's bytes.
  virtual std::optional<std::string> Verify(std::string_view key) const = 0;
};

}  // namespace app
