#include "app/access_policy.hpp"

#include <gtest/gtest.h>

#include <map>

namespace app {
namespace {

// Tokens are looked up by their text: "admin-token" is valid with the admin role, "user-token"
// valid without it, anything else invalid.
class FakeTokens final : public TokenVerifier {
 public:
  base::Result<VerifiedToken> Verify(std::string_view token) const override {
    if (token == "admin-token") return VerifiedToken{"alice", {"viewer", "admin"}, {}};
    if (token == "user-token") return VerifiedToken{"bob", {"viewer"}, {}};
    if (token == "no-sub-admin") return VerifiedToken{"", {"admin"}, {}};
    return base::Fail(base::Error{base::ErrorCode::kUnauthenticated, "bad signature", {}});
  }
};

class FakeKeys final : public ApiKeyVerifier {
 public:
  explicit FakeKeys(std::map<std::string, std::string> keys) : keys_(std::move(keys)) {}
  std::optional<std::string> Verify(std::string_view key) const override {
    const auto it = keys_.find(std::string(key));
    if (it == keys_.end()) return std::nullopt;
    return it->second;
  }

 private:
  std::map<std::string, std::string> keys_;
};

class AccessPolicyTest : public ::testing::Test {
 protected:
  AccessDecision Decide(AccessClass access, std::optional<std::string_view> bearer,
                        std::optional<std::string_view> key = std::nullopt, bool loopback = true,
                        AccessPolicy::Options options = {}) {
    AccessPolicy policy(tokens_, ingest_keys_, metrics_keys_, options);
    Credentials c;
    c.bearer = bearer;
    c.api_key = key;
    c.client_address = loopback ? "127.0.0.1" : "203.0.113.7";
    c.from_loopback = loopback;
    return policy.Decide(access, c);
  }

  FakeTokens tokens_;
  FakeKeys ingest_keys_{{{"ingest-secret", "billing"}}};
  FakeKeys metrics_keys_{{{"metrics-secret", "prometheus"}}};
};

TEST_F(AccessPolicyTest, AnalyticsNeedsAValidAdminToken) {
  const auto ok = Decide(AccessClass::kAnalytics, "admin-token");
  EXPECT_FALSE(ok.refusal);
  EXPECT_EQ(ok.principal.id, "alice");
  EXPECT_EQ(ok.principal.kind, Principal::Kind::kUser);

  const auto none = Decide(AccessClass::kAnalytics, std::nullopt);
  ASSERT_TRUE(none.refusal);
  EXPECT_EQ(none.refusal->code, base::ErrorCode::kUnauthenticated);
  EXPECT_FALSE(none.credentials_sent);
  EXPECT_EQ(none.principal.id, "ip:127.0.0.1");

  const auto bad = Decide(AccessClass::kAnalytics, "forged");
  ASSERT_TRUE(bad.refusal);
  EXPECT_EQ(bad.refusal->code, base::ErrorCode::kUnauthenticated);
  EXPECT_TRUE(bad.credentials_sent);
  EXPECT_EQ(bad.principal.id, "ip:127.0.0.1") << "an unverified token names nobody";

  const auto viewer = Decide(AccessClass::kAnalytics, "user-token");
  ASSERT_TRUE(viewer.refusal);
  EXPECT_EQ(viewer.refusal->code, base::ErrorCode::kPermissionDenied);
  EXPECT_EQ(viewer.principal.id, "bob") << "a valid token is counted against its subject";
}

TEST_F(AccessPolicyTest, AnApiKeyIsNotEnoughForAnalyticsOrAdmin) {
  for (const auto access : {AccessClass::kAnalytics, AccessClass::kAdmin}) {
    const auto d = Decide(access, std::nullopt, "ingest-secret");
    ASSERT_TRUE(d.refusal);
    EXPECT_EQ(d.refusal->code, base::ErrorCode::kUnauthenticated);
  }
}

TEST_F(AccessPolicyTest, IngestTakesAnIngestKeyOrAnAdminToken) {
  const auto key = Decide(AccessClass::kIngest, std::nullopt, "ingest-secret");
  EXPECT_FALSE(key.refusal);
  EXPECT_EQ(key.principal.id, "billing");
  EXPECT_EQ(key.principal.kind, Principal::Kind::kApiKey);
  EXPECT_FALSE(Decide(AccessClass::kIngest, "admin-token").refusal);
  const auto metrics_key = Decide(AccessClass::kIngest, std::nullopt, "metrics-secret");
  ASSERT_TRUE(metrics_key.refusal) << "a metrics key does not ingest";
  EXPECT_EQ(metrics_key.refusal->code, base::ErrorCode::kUnauthenticated);
  ASSERT_TRUE(Decide(AccessClass::kIngest, "user-token").refusal);
  EXPECT_EQ(Decide(AccessClass::kIngest, "user-token").refusal->code,
            base::ErrorCode::kPermissionDenied);
  ASSERT_TRUE(Decide(AccessClass::kIngest, std::nullopt, "").refusal);
}

TEST_F(AccessPolicyTest, MetricsFollowTheConfiguredMode) {
  AccessPolicy::Options loopback;
  EXPECT_FALSE(Decide(AccessClass::kMetrics, std::nullopt, std::nullopt, true, loopback).refusal);
  const auto remote = Decide(AccessClass::kMetrics, "admin-token", std::nullopt, false, loopback);
  ASSERT_TRUE(remote.refusal);
  EXPECT_EQ(remote.refusal->code, base::ErrorCode::kPermissionDenied);

  AccessPolicy::Options token;
  token.metrics = MetricsAccess::kToken;
  EXPECT_TRUE(Decide(AccessClass::kMetrics, std::nullopt, std::nullopt, true, token).refusal);
  EXPECT_FALSE(Decide(AccessClass::kMetrics, std::nullopt, "metrics-secret", false, token).refusal);
  EXPECT_FALSE(Decide(AccessClass::kMetrics, "admin-token", std::nullopt, false, token).refusal);
  EXPECT_TRUE(Decide(AccessClass::kMetrics, std::nullopt, "ingest-secret", false, token).refusal);

  AccessPolicy::Options open;
  open.metrics = MetricsAccess::kOpen;
  EXPECT_FALSE(Decide(AccessClass::kMetrics, std::nullopt, std::nullopt, false, open).refusal);
}

TEST_F(AccessPolicyTest, TheAdminRoleIsConfigurable) {
  AccessPolicy::Options viewers;
  viewers.admin_role = "viewer";
  EXPECT_FALSE(Decide(AccessClass::kAnalytics, "user-token", std::nullopt, true, viewers).refusal);
  EXPECT_FALSE(Decide(AccessClass::kAnalytics, "admin-token", std::nullopt, true, viewers).refusal);
  EXPECT_TRUE(Decide(AccessClass::kAnalytics, "no-sub-admin", std::nullopt, true, viewers).refusal);
}

TEST_F(AccessPolicyTest, AMalformedAuthorizationHeaderIsRefused) {
  AccessPolicy policy(tokens_, ingest_keys_, metrics_keys_, {});
  Credentials c;
  c.bearer = std::string_view{};
  c.authorization_malformed = true;
  c.client_address = "127.0.0.1";
  const auto d = policy.Decide(AccessClass::kAnalytics, c);
  ASSERT_TRUE(d.refusal);
  EXPECT_EQ(d.refusal->code, base::ErrorCode::kUnauthenticated);
  EXPECT_TRUE(d.credentials_sent);
}

TEST_F(AccessPolicyTest, OffAdmitsEveryoneCountedByAddress) {
  AccessPolicy::Options off;
  off.enforce = false;
  const auto d = Decide(AccessClass::kAnalytics, std::nullopt, std::nullopt, true, off);
  EXPECT_FALSE(d.refusal);
  EXPECT_EQ(d.principal.id, "ip:127.0.0.1");
}

}  // namespace
}  // namespace app
