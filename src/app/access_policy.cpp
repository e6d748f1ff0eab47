#include "app/access_policy.hpp"

#include <algorithm>

namespace app {
namespace {

base::Error Unauthenticated(std::string message) {
  return {base::ErrorCode::kUnauthenticated, std::move(message), {}};
}

}  // namespace

AccessDecision AccessPolicy::Decide(AccessClass access, const Credentials& credentials) const {
  AccessDecision decision;
  decision.principal = {Principal::Kind::kAddress, "ip:" + std::string(credentials.client_address)};
  decision.credentials_sent = credentials.bearer.has_value() || credentials.api_key.has_value();
  if (!options_.enforce) return decision;

  switch (access) {
    case AccessClass::kAnalytics:
    case AccessClass::kAdmin:
      return WithAdminToken(credentials, std::move(decision));
    case AccessClass::kIngest:
      if (credentials.api_key) {
        return WithApiKey(ingest_keys_, *credentials.api_key, std::move(decision));
      }
      return WithAdminToken(credentials, std::move(decision));
    case AccessClass::kMetrics:
      switch (options_.metrics) {
        case MetricsAccess::kOpen:
          return decision;
        case MetricsAccess::kLoopback:
          if (!credentials.from_loopback) {
            decision.refusal = base::Error{base::ErrorCode::kPermissionDenied,
                                           "metrics are served to loopback clients only",
                                           {}};
          }
          return decision;
        case MetricsAccess::kToken:
          if (credentials.api_key) {
            return WithApiKey(metrics_keys_, *credentials.api_key, std::move(decision));
          }
          return WithAdminToken(credentials, std::move(decision));
      }
  }
  return decision;
}

AccessDecision AccessPolicy::WithAdminToken(const Credentials& credentials,
                                            AccessDecision decision) const {
  if (!credentials.bearer) {
    decision.refusal = Unauthenticated("a bearer token is required");
    return decision;
  }
  if (credentials.authorization_malformed) {
    decision.refusal = Unauthenticated("the Authorization header must be 'Bearer <token>'");
    return decision;
  }
  auto token = tokens_.Verify(*credentials.bearer);
  if (!token) {
    decision.refusal = Unauthenticated("invalid token: " + token.error().message);
    return decision;
  }
  decision.principal = {Principal::Kind::kUser,
                        token->subject.empty() ? "(no sub)" : token->subject};
  if (std::ranges::find(token->roles, options_.admin_role) == token->roles.end()) {
    decision.refusal =
        base::Error{base::ErrorCode::kPermissionDenied,
                    "the token does not carry the '" + options_.admin_role + "' role",
                    {}};
  }
  return decision;
}

AccessDecision AccessPolicy::WithApiKey(const ApiKeyVerifier& keys, std::string_view key,
                                        AccessDecision decision) const {
  const auto id = keys.Verify(key);
  if (!id) {
    decision.refusal = Unauthenticated("invalid API key");
    return decision;
  }
  decision.principal = {Principal::Kind::kApiKey, *id};
  return decision;
}

}  // namespace app
