#pragma once

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "app/ports/credential_verifiers.hpp"
#include "base/clock.hpp"
#include "base/result.hpp"

namespace adapters::jwt {

/// TokenVerifier for JWS compact tokens (RFC 7515, 7519) signed with HS256, RS256 or ES256.
///
/// Algorithms and keys come from configuration only: the header's "alg" must be one of the
/// pinned algorithms, and it selects a key family (HS256 the HMAC secret, RS256 RSA keys, ES256
/// P-256 keys), never a key; "kid" picks a key within that family from the JWKS. Header members
/// that point at keys ("jku", "x5u", "jwk", "x5c") are ignored and nothing is ever fetched.
/// Headers and payloads with duplicate member names, "crit", or a foreign "typ" are refused.
///
/// Every refusal is kUnauthenticated with a short reason ("token expired", "bad signature",
/// ...) that never contains the token or a key.
///
/// Thread-safe: `Verify` may run from any number of threads. A JWKS file is re-checked (mtime
/// and size) at most once a second, from inside `Verify`; a changed file is parsed and swapped
/// in whole; a file that no longer parses leaves the previous keys in place and logs
/// "jwt.jwks_reload_failed". The clock passed to `Create` must outlive the verifier.
class JwtVerifier final : public app::TokenVerifier {
 public:
  struct Options {
    /// Pinned by configuration: any of "HS256", "RS256", "ES256" (exact spelling).
    std::vector<std::string> algorithms;
    /// The HS256 key, at least 32 bytes ("" for none).
    std::string hmac_secret;
    /// PEM text of one RSA (2048 bits or more) or EC P-256 public key ("" for none).
    std::string public_key_pem;
    /// Path of a JWK Set file ("" for none), re-read when it changes.
    std::string jwks_file;
    /// Required "iss" (exact match) when non-empty.
    std::string issuer;
    /// Required "aud" (equal string, or an array holding it) when non-empty.
    std::string audience;
    /// Clock skew allowed on "exp" and "nbf"; at most 300 s.
    std::chrono::seconds leeway{60};
    /// The claim holding roles, a string or an array of strings; dots walk into objects
    /// ("realm_access.roles").
    std::string role_claim = "role";
    std::size_t max_token_bytes = 8192;
  };

  /// kInvalidArgument naming the setting in `field` (JWT_ALGORITHMS, JWT_SECRET,
  /// JWT_PUBLIC_KEY_FILE, JWKS_FILE, JWT_LEEWAY_SECONDS, JWT_ROLE_CLAIM) when the options name an
  /// unknown algorithm, give no key, give a weak or unreadable key, a JWKS file that cannot be
  /// read or parsed, or a key no allowed algorithm can use.
  static base::Result<std::unique_ptr<JwtVerifier>> Create(Options options,
                                                           const base::Clock& clock);

  ~JwtVerifier() override;
  JwtVerifier(const JwtVerifier&) = delete;
  JwtVerifier& operator=(const JwtVerifier&) = delete;

  base::Result<app::VerifiedToken> Verify(std::string_view token) const override;

 private:
  struct State;
  explicit JwtVerifier(std::unique_ptr<State> state);

  std::unique_ptr<State> state_;
};

/// An HS256 token with header {"alg":"HS256","typ":"JWT"} and `claims_json` as its payload,
/// taken verbatim. For development and tests: nothing checks the claims.
std::string MintHs256(std::string_view secret, std::string_view claims_json);

/// The HS256 secret kept in `path`: its text without trailing whitespace. When the file does
/// not exist it is created atomically (it appears complete or not at all, and a concurrent
/// creator's file wins) with mode 0600, holding 32 random bytes as 64 hex digits. Fails, naming
/// the path, when the file grants any access to group or others, is not a regular file, holds
/// fewer than 32 bytes, or cannot be read or created.
base::Result<std::string> LoadOrCreateSecretFile(const std::filesystem::path& path);

}  // namespace adapters::jwt
