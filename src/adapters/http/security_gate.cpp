#include "adapters/http/security_gate.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <boost/beast/core/string.hpp>

#include "base/log.hpp"

namespace adapters::http {
namespace {

constexpr std::string_view kRealm = "analytics-service";

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

app::Credentials CredentialsOf(const Request& r) {
  app::Credentials c;
  if (r.authorization) {
    const std::string_view value = Trim(*r.authorization);
    constexpr std::string_view kScheme = "bearer ";
    if (value.size() > kScheme.size() &&
        boost::beast::iequals(value.substr(0, kScheme.size()), kScheme)) {
      c.bearer = Trim(value.substr(kScheme.size()));
    } else {
      c.bearer = std::string_view{};
      c.authorization_malformed = true;
    }
  }
  if (r.api_key) c.api_key = Trim(*r.api_key);
  c.client_address = r.client_address;
  c.from_loopback = r.from_loopback;
  return c;
}

// error_description is a quoted-string: keep it to printable ASCII without quotes.
std::string QuotableText(std::string_view s) {
  std::string out;
  for (const char c : s) {
    if (c >= 0x20 && c < 0x7F && c != '"' && c != '\\') out.push_back(c);
  }
  return out;
}

}  // namespace

RequestGuard::Admission SecurityGate::Admit(const Request& request, app::AccessClass access) {
  const auto decision = policy_.Decide(access, CredentialsOf(request));
  const auto limit =
      limiter_.Admit(access, decision.principal.id, std::chrono::steady_clock::now());
  Admission admission;
  admission.principal = decision.principal.id;
  if (limit.limit > 0) {
    admission.headers.emplace_back("RateLimit-Limit", std::to_string(limit.limit));
    admission.headers.emplace_back("RateLimit-Remaining", std::to_string(limit.remaining));
    admission.headers.emplace_back("RateLimit-Reset", std::to_string(limit.reset.count()));
  }
  if (!limit.allowed) {
    metrics_.RequestThrottled(app::AccessClassName(access));
    const std::string message =
        limit.reason == app::RateLimiter::Reason::kTableFull
            ? std::string("too many clients at once; retry shortly")
            : fmt::format("rate limit of {} {} requests per minute reached; retry in {} s",
                          limit.limit, app::AccessClassName(access), limit.reset.count());
    Response r = ErrorResponse({base::ErrorCode::kResourceExhausted, message, {}});
    std::erase_if(r.headers, [](const auto& h) { return h.first == "Retry-After"; });
    r.headers.emplace_back("Retry-After", std::to_string(limit.reset.count()));
    admission.refusal = std::move(r);
    return admission;
  }
  if (decision.refusal) {
    metrics_.AccessRefused(app::AccessClassName(access), HttpStatusOf(decision.refusal->code));
    Response r = ErrorResponse(*decision.refusal);
    if (decision.refusal->code == base::ErrorCode::kUnauthenticated) {
      r.headers.emplace_back(
          "WWW-Authenticate",
          decision.credentials_sent
              ? fmt::format(
                    "Bearer realm=\"{}\", error=\"invalid_token\", error_description=\"{}\"",
                    kRealm, QuotableText(decision.refusal->message))
              : fmt::format("Bearer realm=\"{}\"", kRealm));
    }
    admission.refusal = std::move(r);
  }
  return admission;
}

Response SecurityGate::Preflight(const Request& request, std::string_view methods) {
  Response r;
  r.status = 204;
  r.content_type = "text/plain";
  const std::string allowed = std::string(methods) + ", OPTIONS";
  if (request.origin.empty()) {
    r.headers.emplace_back("Allow", allowed);
    return r;
  }
  if (!IsAllowedOrigin(request.origin)) {
    r = ErrorResponse({base::ErrorCode::kPermissionDenied, "this origin is not allowed", "Origin"});
    return r;
  }
  r.headers.emplace_back("Access-Control-Allow-Methods", allowed);
  r.headers.emplace_back("Access-Control-Allow-Headers", "Authorization, Content-Type, X-API-Key");
  r.headers.emplace_back("Access-Control-Max-Age", std::to_string(options_.cors_max_age.count()));
  return r;
}

void SecurityGate::Decorate(const Request& request, Response& response) const {
  if (options_.cors_origins.empty()) return;
  response.headers.emplace_back("Vary", "Origin");
  if (request.origin.empty() || !IsAllowedOrigin(request.origin)) return;
  response.headers.emplace_back("Access-Control-Allow-Origin", request.origin);
  response.headers.emplace_back(
      "Access-Control-Expose-Headers",
      "RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset, Retry-After, WWW-Authenticate");
}

void SecurityGate::Answered(const Request& request, std::string_view route, app::AccessClass access,
                            std::string_view principal, int status,
                            std::chrono::duration<double> latency) {
  if (access != app::AccessClass::kAnalytics && access != app::AccessClass::kAdmin) return;
  const auto param = [&](const char* name) {
    const auto it = request.query.find(name);
    return it == request.query.end() ? std::string() : it->second;
  };
  base::log::Info("audit", {{"principal", principal},
                            {"method", request.method},
                            {"route", route},
                            {"startDate", param("startDate")},
                            {"endDate", param("endDate")},
                            {"status", status},
                            {"duration_ms", latency.count() * 1000.0},
                            {"client", request.client_address}});
}

bool SecurityGate::IsAllowedOrigin(std::string_view origin) const {
  return std::ranges::find(options_.cors_origins, origin) != options_.cors_origins.end();
}

}  // namespace adapters::http
