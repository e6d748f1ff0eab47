#include "adapters/http/security_gate.hpp"

#include <gtest/gtest.h>

#include <map>

namespace adapters::http {
namespace {

class FakeTokens final : public app::TokenVerifier {
 public:
  base::Result<app::VerifiedToken> Verify(std::string_view token) const override {
    if (token == "admin-token") return app::VerifiedToken{"alice", {"admin"}, {}};
    if (token == "viewer-token") return app::VerifiedToken{"bob", {"viewer"}, {}};
    return base::Fail(base::Error{base::ErrorCode::kUnauthenticated, "bad \"signature\"", {}});
  }
};

class NoKeys final : public app::ApiKeyVerifier {
 public:
  std::optional<std::string> Verify(std::string_view) const override { return std::nullopt; }
};

class CountingMetrics final : public app::HttpMetrics {
 public:
  void RequestServed(std::string_view, int, std::chrono::duration<double>) override {}
  void RequestThrottled(std::string_view c) override { ++throttled[std::string(c)]; }
  void AccessRefused(std::string_view c, int status) override {
    ++refused[std::string(c) + "/" + std::to_string(status)];
  }
  std::string Render() const override { return {}; }
  std::map<std::string, int> throttled;
  std::map<std::string, int> refused;
};

std::string HeaderOf(const Response& r, std::string_view name) {
  for (const auto& [k, v] : r.headers) {
    if (k == name) return v;
  }
  return {};
}
std::string HeaderOf(const Headers& headers, std::string_view name) {
  for (const auto& [k, v] : headers) {
    if (k == name) return v;
  }
  return {};
}

class SecurityGateTest : public ::testing::Test {
 protected:
  SecurityGateTest()
      : policy_(tokens_, keys_, keys_, {}),
        limiter_([] {
          app::RateLimiter::Options o;
          o.per_minute = {3, 3, 3, 0};
          return o;
        }()),
        gate_(policy_, limiter_, metrics_,
              {{"https://admin.example.com"}, std::chrono::seconds(600)}) {}

  static Request WithAuthorization(std::optional<std::string> authorization) {
    Request r;
    r.method = "GET";
    r.path = "/api/analytics/users/count";
    r.authorization = std::move(authorization);
    r.client_address = "192.0.2.1";
    return r;
  }

  FakeTokens tokens_;
  NoKeys keys_;
  app::AccessPolicy policy_;
  app::RateLimiter limiter_;
  CountingMetrics metrics_;
  SecurityGate gate_;
};

TEST_F(SecurityGateTest, NoTokenIsAChallengeWithoutError) {
  const auto a = gate_.Admit(WithAuthorization(std::nullopt), app::AccessClass::kAnalytics);
  ASSERT_TRUE(a.refusal);
  EXPECT_EQ(a.refusal->status, 401);
  EXPECT_EQ(HeaderOf(*a.refusal, "WWW-Authenticate"), "Bearer realm=\"analytics-service\"");
  EXPECT_EQ(a.principal, "ip:192.0.2.1");
  EXPECT_EQ(metrics_.refused["analytics/401"], 1);
}

TEST_F(SecurityGateTest, ABadTokenIsAnInvalidTokenChallengeThatQuotesSafely) {
  const auto a = gate_.Admit(WithAuthorization("Bearer forged"), app::AccessClass::kAnalytics);
  ASSERT_TRUE(a.refusal);
  EXPECT_EQ(a.refusal->status, 401);
  const auto challenge = HeaderOf(*a.refusal, "WWW-Authenticate");
  EXPECT_TRUE(challenge.starts_with("Bearer realm=\"analytics-service\", error=\"invalid_token\""))
      << challenge;
  EXPECT_EQ(challenge.find("\"signature"), std::string::npos) << "inner quotes are dropped";
  EXPECT_EQ(challenge.find("forged"), std::string::npos) << "the token is never echoed";
}

TEST_F(SecurityGateTest, SchemesOtherThanBearerAreRefused) {
  int client = 0;
  for (const std::string h : {"Basic YWRtaW46YWRtaW4=", "admin-token", "Bearer", ""}) {
    auto request = WithAuthorization(h);
    request.client_address = "192.0.2." + std::to_string(++client);  // under the limit of 3
    const auto a = gate_.Admit(request, app::AccessClass::kAnalytics);
    ASSERT_TRUE(a.refusal) << h;
    EXPECT_EQ(a.refusal->status, 401) << h;
  }
  EXPECT_FALSE(
      gate_.Admit(WithAuthorization("bearer  admin-token "), app::AccessClass::kAnalytics).refusal)
      << "the scheme is case-insensitive";
}

TEST_F(SecurityGateTest, AValidNonAdminTokenIsForbidden) {
  const auto a =
      gate_.Admit(WithAuthorization("Bearer viewer-token"), app::AccessClass::kAnalytics);
  ASSERT_TRUE(a.refusal);
  EXPECT_EQ(a.refusal->status, 403);
  EXPECT_EQ(HeaderOf(*a.refusal, "WWW-Authenticate"), "");
  EXPECT_EQ(a.principal, "bob");
}

TEST_F(SecurityGateTest, RateLimitHeadersOnEveryAnswerAndA429WithRetryAfter) {
  const auto request = WithAuthorization("Bearer admin-token");
  for (int i = 0; i < 3; ++i) {
    const auto a = gate_.Admit(request, app::AccessClass::kAnalytics);
    EXPECT_FALSE(a.refusal);
    EXPECT_EQ(HeaderOf(a.headers, "RateLimit-Limit"), "3");
    EXPECT_EQ(HeaderOf(a.headers, "RateLimit-Remaining"), std::to_string(2 - i));
    EXPECT_FALSE(HeaderOf(a.headers, "RateLimit-Reset").empty());
  }
  const auto a = gate_.Admit(request, app::AccessClass::kAnalytics);
  ASSERT_TRUE(a.refusal);
  EXPECT_EQ(a.refusal->status, 429);
  const auto retry = std::stoi(HeaderOf(*a.refusal, "Retry-After"));
  EXPECT_GE(retry, 60);
  EXPECT_LE(retry, 61);
  EXPECT_EQ(HeaderOf(a.headers, "RateLimit-Remaining"), "0");
  EXPECT_EQ(metrics_.throttled["analytics"], 1);
  // Another class is counted apart.
  const auto other = gate_.Admit(WithAuthorization(std::nullopt), app::AccessClass::kIngest);
  EXPECT_EQ(other.refusal->status, 401);
}

TEST_F(SecurityGateTest, CorsOnlyForExactAllowedOrigins) {
  Request r = WithAuthorization(std::nullopt);
  r.origin = "https://admin.example.com";
  Response ok;
  gate_.Decorate(r, ok);
  EXPECT_EQ(HeaderOf(ok, "Access-Control-Allow-Origin"), "https://admin.example.com");
  EXPECT_EQ(HeaderOf(ok, "Vary"), "Origin");
  for (const std::string hostile :
       {"https://evil.example.com", "https://admin.example.com.evil.io", "http://admin.example.com",
        "null", "https://ADMIN.example.com"}) {
    r.origin = hostile;
    Response no;
    gate_.Decorate(r, no);
    EXPECT_EQ(HeaderOf(no, "Access-Control-Allow-Origin"), "") << hostile;
    EXPECT_EQ(HeaderOf(no, "Vary"), "Origin");
    const auto pre = gate_.Preflight(r, "GET");
    EXPECT_EQ(pre.status, 403) << hostile;
    EXPECT_EQ(HeaderOf(pre, "Access-Control-Allow-Methods"), "");
  }
  r.origin = "https://admin.example.com";
  const auto pre = gate_.Preflight(r, "GET");
  EXPECT_EQ(pre.status, 204);
  EXPECT_EQ(HeaderOf(pre, "Access-Control-Allow-Methods"), "GET, OPTIONS");
  EXPECT_NE(HeaderOf(pre, "Access-Control-Allow-Headers").find("Authorization"), std::string::npos);
  EXPECT_EQ(HeaderOf(pre, "Access-Control-Max-Age"), "600");
}

}  // namespace
}  // namespace adapters::http
