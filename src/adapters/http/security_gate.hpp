#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "adapters/http/http_server.hpp"
#include "app/access_policy.hpp"
#include "app/ports/http_metrics.hpp"
#include "app/rate_limiter.hpp"

namespace adapters::http {

/// The HTTP face of the access rules: reads the credentials of a request (`Authorization:
/// Bearer`, `X-API-Key`, the client address), asks the `AccessPolicy` who it is and whether it
/// may proceed, counts it in the `RateLimiter` (429 with a truthful `Retry-After`; the
/// `RateLimit-*` headers on every answer of a limited route), answers 401 with a
/// `WWW-Authenticate` challenge and 403, answers CORS preflights and adds CORS headers for the
/// exact origins of the allow-list, and writes one audit line per analytics or admin request
/// (principal, route, range, status, duration; never a credential). Thread-safe.
class SecurityGate final : public RequestGuard {
 public:
  struct Options {
    std::vector<std::string>
        cors_origins;  ///< exact origins (scheme://host[:port]); empty: no CORS
    std::chrono::seconds cors_max_age{600};
  };

  SecurityGate(const app::AccessPolicy& policy, app::RateLimiter& limiter,
               app::HttpMetrics& metrics, Options options)
      : policy_(policy), limiter_(limiter), metrics_(metrics), options_(std::move(options)) {}

  Admission Admit(const Request& request, app::AccessClass access) override;
  Response Preflight(const Request& request, std::string_view methods) override;
  void Decorate(const Request& request, Response& response) const override;
  void Answered(const Request& request, std::string_view route, app::AccessClass access,
                std::string_view principal, int status,
                std::chrono::duration<double> latency) override;

 private:
  bool IsAllowedOrigin(std::string_view origin) const;

  const app::AccessPolicy& policy_;
  app::RateLimiter& limiter_;
  app::HttpMetrics& metrics_;
  const Options options_;
};

}  // namespace adapters::http
