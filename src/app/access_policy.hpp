#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "app/access_class.hpp"
#include "app/ports/credential_verifiers.hpp"
#include "base/result.hpp"

namespace app {

/// Who may read `/metrics`.
enum class MetricsAccess { kLoopback, kToken, kOpen };

/// The credentials a request carried, as the protocol adapter found them.
struct Credentials {
  /// The token of `Authorization: Bearer <token>`; set (possibly empty) whenever an
  /// Authorization header was sent, whatever its scheme.
  std::optional<std::string_view> bearer;
  bool authorization_malformed = false;  ///< an Authorization header that is not `Bearer <token>`
  std::optional<std::string_view> api_key;  ///< `X-API-Key`
  std::string_view client_address;
  bool from_loopback = false;
};

/// Whom a request is counted against (rate limits, audit log).
struct Principal {
  enum class Kind { kUser, kApiKey, kAddress };
  Kind kind = Kind::kAddress;
  /// The token's `sub`, the API key's id, or `ip:<client address>` when nothing was verified.
  std::string id;
};

struct AccessDecision {
  Principal principal;
  /// Set when the request may not proceed: kUnauthenticated (no valid credentials) or
  /// kPermissionDenied (valid, but not allowed in this class).
  std::optional<base::Error> refusal;
  bool credentials_sent = false;  ///< a token or key was sent (decides the 401's challenge)
};

/// Decides who a request is and whether it may use an access class: analytics and admin need
/// a valid bearer token with the admin role; ingest takes that or a valid ingest API key;
/// metrics follow `MetricsAccess` (a metrics API key or an admin token in kToken mode).
/// Immutable after construction; thread-safe as the verifiers are.
class AccessPolicy {
 public:
  struct Options {
    std::string admin_role = "admin";
    MetricsAccess metrics = MetricsAccess::kLoopback;
    /// false only for local benchmarks (development, loopback): everyone is admitted, still
    /// counted by client address.
    bool enforce = true;
  };

  AccessPolicy(const TokenVerifier& tokens, const ApiKeyVerifier& ingest_keys,
               const ApiKeyVerifier& metrics_keys, Options options)
      : tokens_(tokens),
        ingest_keys_(ingest_keys),
        metrics_keys_(metrics_keys),
        options_(std::move(options)) {}

  AccessDecision Decide(AccessClass access, const Credentials& credentials) const;

 private:
  AccessDecision WithAdminToken(const Credentials& credentials, AccessDecision decision) const;
  AccessDecision WithApiKey(const ApiKeyVerifier& keys, std::string_view key,
                            AccessDecision decision) const;

  const TokenVerifier& tokens_;
  const ApiKeyVerifier& ingest_keys_;
  const ApiKeyVerifier& metrics_keys_;
  const Options options_;
};

}  // namespace app
