// Black-box tests of what makes the service safe to put on a network: tokens (forged ones
// included), roles, API keys, rate limits, CORS, HTTP limits and framing, the audit log, and the
// development secret. The real binary over real HTTP, and over raw sockets where a client would
// not send such bytes.

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "adapters/crypto/hashed_api_keys.hpp"
#include "adapters/jwt/testing/test_keys.hpp"
#include "e2e/service_process.hpp"

namespace e2e {
namespace {

namespace json = boost::json;
namespace jt = adapters::jwt::testing;
using Clock = std::chrono::steady_clock;

constexpr std::string_view kIssuer = "https://auth.test";
constexpr std::string_view kAudience = "analytics-service";
constexpr std::string_view kOrigin = "https://admin.example.com";

std::int64_t Now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

/// Claims the configured service accepts, for `sub` with `role`; `extra` is spliced in last.
std::string Claims(std::string_view sub, std::string_view role = "admin",
                   std::string_view extra = {}) {
  std::string c = "{\"sub\":\"" + std::string(sub) + "\"";
  if (!role.empty()) c += ",\"role\":\"" + std::string(role) + "\"";
  c += ",\"iss\":\"" + std::string(kIssuer) + "\",\"aud\":\"" + std::string(kAudience) + "\"";
  c += ",\"iat\":" + std::to_string(Now()) + ",\"exp\":" + std::to_string(Now() + 600);
  return c + std::string(extra) + "}";
}

std::string Hs256(std::string_view claims) {
  return jt::SignedHs256(kTestJwtSecret, R"({"alg":"HS256","typ":"JWT"})", claims);
}

// What one exchange over a raw socket brought back.
struct RawReply {
  std::string bytes;
  bool closed = false;  // the server closed the connection
  int Status() const { return bytes.size() > 12 ? std::stoi(bytes.substr(9, 3)) : 0; }
  int Responses() const {
    int n = 0;
    for (auto p = bytes.find("HTTP/1.1 "); p != std::string::npos;
         p = bytes.find("HTTP/1.1 ", p + 1))
      ++n;
    return n;
  }
};

/// A connected TCP socket to 127.0.0.1:`port`, or -1.
int ConnectLoopback(std::uint16_t port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

/// Sends `request` as it is and reads until the server closes or `quiet` passes with nothing.
RawReply Raw(std::uint16_t port, std::string_view request,
             std::chrono::milliseconds quiet = std::chrono::milliseconds(1500)) {
  RawReply reply;
  const int fd = ConnectLoopback(port);
  if (fd < 0) return reply;
  std::size_t sent = 0;
  while (sent < request.size()) {
    const auto n = send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;  // the server may stop reading a request it refused
    sent += static_cast<std::size_t>(n);
  }
  char buf[65536];
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(quiet.count())) <= 0) break;
    const auto n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0) {
      reply.closed = true;
      break;
    }
    reply.bytes.append(buf, static_cast<std::size_t>(n));
  }
  close(fd);
  return reply;
}

std::string Body(const RawReply& r) {
  const auto p = r.bytes.find("\r\n\r\n");
  return p == std::string::npos ? std::string() : r.bytes.substr(p + 4);
}

class SecurityE2e : public testing::Test {
 protected:
  void SetUp() override {
    dir_ = FreshDir(testing::UnitTest::GetInstance()->current_test_info()->name());
    rsa_ = jt::GenerateRsaKey();
    ec_ = jt::GenerateEcKey();
    WriteJwks({jt::PublicJwk(rsa_, "rsa-1"), jt::PublicJwk(ec_, "ec-1")});
  }
  void TearDown() override {
    if (HasFailure() && service_) std::cerr << "---- service log ----\n" << service_->Log();
    service_.reset();
    std::filesystem::remove_all(dir_);
  }

  void WriteJwks(const std::vector<std::string>& keys) {
    const auto tmp = dir_ / "jwks.json.tmp";
    std::ofstream(tmp) << jt::JwkSetJson(keys);
    std::filesystem::rename(tmp, dir_ / "jwks.json");
  }

  ServiceProcess& StartService(std::map<std::string, std::string> env = {}) {
    std::map<std::string, std::string> all = {
        {"JWT_ALGORITHMS", "HS256,RS256,ES256"},
        {"JWKS_FILE", (dir_ / "jwks.json").string()},
        {"JWT_ISSUER", std::string(kIssuer)},
        {"JWT_AUDIENCE", std::string(kAudience)},
        {"CORS_ALLOWED_ORIGINS", std::string(kOrigin)},
        // Forged tokens name nobody, so they count against the client address: lifted here so
        // that the many refusals below are all 401s (the limit itself is tested with subjects).
        {"RATE_LIMIT_OVERRIDES", "*/ip:127.0.0.1=0"},
    };
    for (auto& [k, v] : env) all[k] = v;
    service_ = std::make_unique<ServiceProcess>(dir_ / "service", std::move(all));
    std::filesystem::create_directories(dir_ / "service");
    EXPECT_TRUE(service_->Start()) << service_->Log();
    return *service_;
  }

  /// A client without credentials of its own.
  std::unique_ptr<loadgen::HttpClient> Anonymous() const {
    return std::make_unique<loadgen::HttpClient>("127.0.0.1", service_->port());
  }
  /// A token with the admin role that this suite's service accepts (its issuer and audience).
  static std::string Admin() { return Hs256(Claims("security-admin")); }
  std::unique_ptr<loadgen::HttpClient> AdminClient() const {
    auto c = Anonymous();
    c->SetHeader("Authorization", "Bearer " + Admin());
    return c;
  }
  base::Result<loadgen::HttpReply> Get(const std::string& target, const std::string& token,
                                       loadgen::HeaderList extra = {}) {
    if (!token.empty()) extra.emplace_back("Authorization", "Bearer " + token);
    return Anonymous()->Send("GET", target, {}, "application/json", extra);
  }

  std::filesystem::path dir_;
  jt::Key rsa_;
  jt::Key ec_;
  std::unique_ptr<ServiceProcess> service_;
};

TEST_F(SecurityE2e, ValidTokensOfEachAlgorithmAreAccepted) {
  StartService();
  const auto hs = Hs256(Claims("hs-admin"));
  const auto rs = jt::SignedRs256(rsa_, R"({"alg":"RS256","kid":"rsa-1"})", Claims("rs-admin"));
  const auto es = jt::SignedEs256(ec_, R"({"alg":"ES256","kid":"ec-1"})", Claims("es-admin"));
  for (const auto& token : {hs, rs, es}) {
    auto r = Get("/api/analytics/users/count", token);
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->status, 200) << r->body;
  }
}

TEST_F(SecurityE2e, ForgedAndWrongTokensAreAll401OnEveryKindOfRoute) {
  auto& s = StartService();
  const std::string payload = adapters::jwt::EncodeBase64Url(Claims("mallory"));
  const std::string viewer = Hs256(Claims("viewer", "viewer"));
  const std::string good = Hs256(Claims("forgery-control"));
  const auto sig_of = [](const std::string& t) { return t.substr(t.rfind('.') + 1); };
  const auto head = [](std::string_view h) { return adapters::jwt::EncodeBase64Url(h); };
  const auto attacker = jt::GenerateRsaKey();
  const auto attacker_jwk = jt::PublicJwk(attacker, "attacker");
  const auto attacker_ec = jt::GenerateEcKey();

  std::vector<std::pair<std::string, std::string>> forged = {
      {"alg none", head(R"({"alg":"none"})") + "." + payload + "."},
      {"alg None", head(R"({"alg":"None"})") + "." + payload + "."},
      {"alg NONE", head(R"({"alg":"NONE"})") + "." + payload + "."},
      {"alg nOnE", head(R"({"alg":"nOnE","typ":"JWT"})") + "." + payload + "."},
      {"alg none with a signature", head(R"({"alg":"none"})") + "." + payload + "." + sig_of(good)},
      {"alg empty", head(R"({"alg":""})") + "." + payload + "."},
      {"HS256 keyed with the RSA public key PEM",
       jt::SignedHs256(jt::PublicKeyPem(rsa_), R"({"alg":"HS256","kid":"rsa-1"})",
                       Claims("mallory"))},
      {"HS256 keyed with the RSA public key DER",
       jt::SignedHs256(jt::PublicKeyDer(rsa_), R"({"alg":"HS256"})", Claims("mallory"))},
      {"HS256 keyed with the RSA JWK",
       jt::SignedHs256(jt::PublicJwk(rsa_, "rsa-1"), R"({"alg":"HS256","kid":"rsa-1"})",
                       Claims("mallory"))},
      {"HS256 keyed with the EC public key PEM",
       jt::SignedHs256(jt::PublicKeyPem(ec_), R"({"alg":"HS256","kid":"ec-1"})",
                       Claims("mallory"))},
      {"HS256 with another secret", jt::SignedHs256("another-secret-of-at-least-32-bytes!!",
                                                    R"({"alg":"HS256"})", Claims("mallory"))},
      {"signature stripped", good.substr(0, good.rfind('.') + 1)},
      {"signature segment missing", good.substr(0, good.rfind('.'))},
      {"signature truncated", good.substr(0, good.size() - 10)},
      {"signature bit flipped",
       good.substr(0, good.size() - 2) + (good[good.size() - 2] == 'A' ? "B" : "A") + good.back()},
      {"payload altered to admin",
       viewer.substr(0, viewer.find('.') + 1) + payload + viewer.substr(viewer.rfind('.'))},
      {"header altered",
       head(R"({"alg":"HS256","typ":"JWT","kid":"x"})") + good.substr(good.find('.'))},
      {"expired", Hs256(Claims("mallory", "admin", ",\"exp\":" + std::to_string(Now() - 300)))},
      {"not yet valid",
       Hs256(Claims("mallory", "admin", ",\"nbf\":" + std::to_string(Now() + 600)))},
      {"no exp",
       Hs256(
           R"({"sub":"mallory","role":"admin","iss":"https://auth.test","aud":"analytics-service"})")},
      {"exp a string",
       Hs256(
           R"({"sub":"m","role":"admin","iss":"https://auth.test","aud":"analytics-service","exp":"9999999999"})")},
      {"exp 1e300",
       Hs256(
           R"({"sub":"m","role":"admin","iss":"https://auth.test","aud":"analytics-service","exp":1e300})")},
      {"exp past 2^64",
       Hs256(
           R"({"sub":"m","role":"admin","iss":"https://auth.test","aud":"analytics-service","exp":99999999999999999999})")},
      {"exp negative",
       Hs256(
           R"({"sub":"m","role":"admin","iss":"https://auth.test","aud":"analytics-service","exp":-1})")},
      {"wrong issuer",
       Hs256(
           R"({"sub":"m","role":"admin","iss":"https://evil.test","aud":"analytics-service","exp":)" +
           std::to_string(Now() + 600) + "}")},
      {"no issuer", Hs256(R"({"sub":"m","role":"admin","aud":"analytics-service","exp":)" +
                          std::to_string(Now() + 600) + "}")},
      {"wrong audience",
       Hs256(R"({"sub":"m","role":"admin","iss":"https://auth.test","aud":"billing","exp":)" +
             std::to_string(Now() + 600) + "}")},
      {"audience list without ours",
       Hs256(R"({"sub":"m","role":"admin","iss":"https://auth.test","aud":["a","b"],"exp":)" +
             std::to_string(Now() + 600) + "}")},
      {"RS256 unknown kid",
       jt::SignedRs256(rsa_, R"({"alg":"RS256","kid":"rsa-9"})", Claims("mallory"))},
      {"RS256 without kid", jt::SignedRs256(rsa_, R"({"alg":"RS256"})", Claims("mallory"))},
      {"ES256 unknown kid",
       jt::SignedEs256(ec_, R"({"alg":"ES256","kid":"ec-9"})", Claims("mallory"))},
      {"RS256 by another key under a known kid",
       jt::SignedRs256(attacker, R"({"alg":"RS256","kid":"rsa-1"})", Claims("mallory"))},
      {"ES256 by another key under a known kid",
       jt::SignedEs256(attacker_ec, R"({"alg":"ES256","kid":"ec-1"})", Claims("mallory"))},
      {"jku elsewhere",
       jt::SignedRs256(attacker,
                       R"({"alg":"RS256","kid":"attacker","jku":"https://evil.test/jwks.json"})",
                       Claims("mallory"))},
      {"x5u elsewhere",
       jt::SignedRs256(attacker,
                       R"({"alg":"RS256","kid":"attacker","x5u":"https://evil.test/cert.pem"})",
                       Claims("mallory"))},
      {"jwk embedded", jt::SignedRs256(attacker, R"({"alg":"RS256","jwk":)" + attacker_jwk + "}",
                                       Claims("mallory"))},
      {"ES256 with a DER signature",
       jt::Join(jt::SigningInput(R"({"alg":"ES256","kid":"ec-1"})", Claims("mallory")),
                jt::SignSha256(
                    ec_, jt::SigningInput(R"({"alg":"ES256","kid":"ec-1"})", Claims("mallory"))))},
      {"alg RS256 with an EC key's kid",
       jt::SignedEs256(ec_, R"({"alg":"RS256","kid":"ec-1"})", Claims("mallory"))},
      {"alg HS512", jt::SignedHs256(kTestJwtSecret, R"({"alg":"HS512"})", Claims("mallory"))},
      {"plus and slash", std::string(good).replace(good.find('.') + 2, 2, "+/")},
      {"padding", good.substr(0, good.find('.')) + "==" + good.substr(good.find('.'))},
      {"space inside", good.substr(0, 10) + " " + good.substr(10)},
      {"four segments", good + ".e30"},
      {"one segment", adapters::jwt::EncodeBase64Url(Claims("mallory"))},
      {"dots only", ".."},
      {"payload an array", jt::SignedHs256(kTestJwtSecret, R"({"alg":"HS256"})", R"(["admin"])")},
      {"payload a number", jt::SignedHs256(kTestJwtSecret, R"({"alg":"HS256"})", "12345")},
      {"payload a string", jt::SignedHs256(kTestJwtSecret, R"({"alg":"HS256"})", R"("admin")")},
      {"header not JSON", jt::SignedHs256(kTestJwtSecret, "alg=HS256", Claims("mallory"))},
      {"duplicate role claim", Hs256(Claims("mallory", "viewer", R"(,"role":"admin")"))},
      {"duplicate alg",
       jt::SignedHs256(kTestJwtSecret, R"({"alg":"none","alg":"HS256"})", Claims("mallory"))},
      {"invalid UTF-8 payload", Hs256(Claims("mall\xFF\xFEory"))},
      {"crit header",
       jt::SignedHs256(kTestJwtSecret, R"({"alg":"HS256","crit":["exp"]})", Claims("mallory"))},
      {"not base64 at all", "this-is-not.a-token.at-all!"},
  };
  ASSERT_GE(forged.size(), 40u);

  // Sanity: the same claims, properly signed, pass; so each refusal below is the forgery's.
  auto control = Get("/api/analytics/users/count", good);
  ASSERT_TRUE(control);
  ASSERT_EQ(control->status, 200) << control->body;

  const std::string event =
      R"({"type":"user.signin","data":{"userId":"u1","timestamp":"2026-01-01T00:00:00Z"}})";
  for (const auto& [name, token] : forged) {
    for (const std::string route :
         {"GET /api/analytics/users/count", "GET /api/analytics/revenue/mrr",
          "GET /api/events/stats", "POST /api/events"}) {
      const bool post = route.starts_with("POST");
      auto client = Anonymous();
      auto r =
          client->Send(post ? "POST" : "GET", route.substr(route.find(' ') + 1), post ? event : "",
                       "application/json", {{"Authorization", "Bearer " + token}});
      ASSERT_TRUE(r) << name << ": " << r.error().message;
      EXPECT_EQ(r->status, 401) << name << " on " << route << ": " << r->body;
      EXPECT_NE(r->Header("WWW-Authenticate").find("error=\"invalid_token\""), std::string::npos)
          << name << ": " << r->Header("WWW-Authenticate");
    }
  }
  // A 100 KB token: refused for its size before any parsing.
  const std::string huge = good.substr(0, good.find('.') + 1) + std::string(100 * 1024, 'A') + ".x";
  const auto r =
      Raw(s.port(), "GET /api/analytics/users/count HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
                        huge + "\r\n\r\n");
  EXPECT_TRUE(r.Status() == 401 || r.Status() == 431) << r.bytes.substr(0, 200);
  // Nothing forged was stored.
  auto stats = Get("/api/events/stats", good);
  ASSERT_TRUE(stats);
  EXPECT_EQ(json::parse(stats->body).at("total").as_int64(), 0) << stats->body;
  EXPECT_EQ(s.Log().find(good.substr(good.rfind('.') + 1)), std::string::npos)
      << "no token is ever logged";
}

TEST_F(SecurityE2e, KeysAddedToTheJwksFileAreUsedWithoutARestart) {
  StartService();
  const auto next = jt::GenerateRsaKey();
  const auto by_next = jt::SignedRs256(next, R"({"alg":"RS256","kid":"rsa-2"})", Claims("rotated"));
  const auto by_old = jt::SignedRs256(rsa_, R"({"alg":"RS256","kid":"rsa-1"})", Claims("retired"));
  EXPECT_EQ(Get("/api/analytics/users/count", by_next)->status, 401);
  EXPECT_EQ(Get("/api/analytics/users/count", by_old)->status, 200);
  WriteJwks({jt::PublicJwk(next, "rsa-2"), jt::PublicJwk(ec_, "ec-1")});
  // The file is checked at most once a second: wait for the state, not a fixed time.
  int status = 0;
  for (int i = 0; i < 100 && status != 200; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    status = Get("/api/analytics/users/count", by_next)->status;
  }
  EXPECT_EQ(status, 200);
  EXPECT_EQ(Get("/api/analytics/users/count", by_old)->status, 401) << "the retired key is gone";
}

TEST_F(SecurityE2e, EveryAnalyticsRouteNeedsAnAdminToken) {
  auto& s = StartService();
  auto doc = s.client().Send("GET", "/api/docs/openapi.json");
  ASSERT_TRUE(doc);
  ASSERT_EQ(doc->status, 200);
  std::vector<std::string> routes;
  const auto openapi = json::parse(doc->body);
  for (const auto& [path, item] : openapi.at("paths").as_object()) {
    const std::string p(path);
    if ((p.starts_with("/api/analytics/") || p == "/api/events/stats") &&
        item.as_object().contains("get")) {
      routes.push_back(p);
    }
  }
  ASSERT_GE(routes.size(), 20u) << "19 analytics endpoints and the stats";
  const auto admin = Hs256(Claims("routes-admin"));
  const auto viewer = Hs256(Claims("routes-viewer", "viewer"));
  const auto no_role = Hs256(Claims("routes-nobody", ""));
  for (const auto& route : routes) {
    auto none = Get(route, "");
    ASSERT_TRUE(none);
    EXPECT_EQ(none->status, 401) << route;
    EXPECT_EQ(none->Header("WWW-Authenticate"), "Bearer realm=\"analytics-service\"") << route;
    EXPECT_EQ(Get(route, viewer)->status, 403) << route;
    EXPECT_EQ(Get(route, no_role)->status, 403) << route;
    auto ok = Get(route, admin);
    EXPECT_EQ(ok->status, 200) << route << ": " << ok->body;
    EXPECT_EQ(ok->Header("Cache-Control"), "no-store") << route;
    EXPECT_EQ(ok->Header("X-Content-Type-Options"), "nosniff") << route;
  }
  // Open routes stay open.
  for (const std::string route : {"/health", "/ready", "/api/docs/openapi.json"}) {
    EXPECT_EQ(Get(route, "")->status, 200) << route;
  }
}

TEST_F(SecurityE2e, IngestTakesAnApiKeyOrAnAdminToken) {
  const std::string key = "ak_test-key-for-the-ingest-route-0123456789";
  const std::string old_key = "ak_the-previous-key-still-accepted-0123456";
  using adapters::crypto::Sha256Hex;
  StartService(
      {{"INGEST_API_KEYS", "billing:" + Sha256Hex(key) + ",billing-old:" + Sha256Hex(old_key)}});
  const std::string event =
      R"({"type":"user.signin","data":{"userId":"u1","timestamp":"2026-01-01T00:00:00Z"}})";
  auto post = [&](loadgen::HeaderList h) {
    return Anonymous()->Send("POST", "/api/events", event, "application/json", h);
  };
  EXPECT_EQ(post({{"X-API-Key", key}})->status, 200);
  EXPECT_EQ(post({{"X-API-Key", old_key}})->status, 200) << "both keys work during a rotation";
  EXPECT_EQ(post({{"X-API-Key", key + "x"}})->status, 401);
  EXPECT_EQ(post({})->status, 401);
  EXPECT_EQ(post({{"Authorization", "Bearer " + Hs256(Claims("ingest-admin"))}})->status, 200);
  EXPECT_EQ(post({{"Authorization", "Bearer " + Hs256(Claims("ingest-viewer", "viewer"))}})->status,
            403);
  // An ingest key reads nothing.
  EXPECT_EQ(Get("/api/analytics/users/count", "", {{"X-API-Key", key}})->status, 401);
}

TEST_F(SecurityE2e, RateLimitAcceptsExactlyTheLimitPerPrincipalAndTellsWhenToRetry) {
  auto& s = StartService();
  const auto a = Hs256(Claims("rl-a"));
  const auto b = Hs256(Claims("rl-b"));
  auto client = Anonymous();
  client->SetHeader("Authorization", "Bearer " + a);
  int accepted = 0, throttled = 0;
  std::string retry_after;
  const auto started = Clock::now();
  for (int i = 0; i < 300; ++i) {
    auto r = client->Send("GET", "/api/analytics/users/count");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->Header("RateLimit-Limit"), "100");
    EXPECT_FALSE(r->Header("RateLimit-Remaining").empty());
    EXPECT_FALSE(r->Header("RateLimit-Reset").empty());
    if (r->status == 200) ++accepted;
    if (r->status == 429) {
      ++throttled;
      retry_after = r->Header("Retry-After");
      EXPECT_EQ(r->Header("RateLimit-Remaining"), "0");
    }
  }
  ASSERT_LT(Clock::now() - started, std::chrono::seconds(55)) << "the burst must fit in one window";
  EXPECT_EQ(accepted, 100);
  EXPECT_EQ(throttled, 200);
  EXPECT_EQ(Get("/api/analytics/users/count", b)->status, 200) << "another principal is unaffected";
  auto metrics = s.client().Send("GET", "/metrics");
  EXPECT_NE(metrics->body.find("analytics_http_throttled_total{class=\"analytics\"} 200"),
            std::string::npos);

  // Retry-After is truthful: after it, the same principal is accepted again.
  const int wait = std::stoi(retry_after);
  ASSERT_GE(wait, 1);
  ASSERT_LE(wait, 61);
  EXPECT_EQ(client->Send("GET", "/api/analytics/users/count")->status, 429);
  std::this_thread::sleep_for(std::chrono::seconds(wait));
  EXPECT_EQ(client->Send("GET", "/api/analytics/users/count")->status, 200);
}

TEST_F(SecurityE2e, CorsOnlyForTheAllowedOrigin) {
  StartService();
  const auto token = Hs256(Claims("cors-admin"));
  auto allowed = Get("/api/analytics/users/count", token, {{"Origin", std::string(kOrigin)}});
  EXPECT_EQ(allowed->Header("Access-Control-Allow-Origin"), kOrigin);
  EXPECT_EQ(allowed->Header("Vary"), "Origin");
  for (const std::string hostile : {"https://evil.example.com", "https://admin.example.com.evil.io",
                                    "http://admin.example.com", "null"}) {
    auto r = Get("/api/analytics/users/count", token, {{"Origin", hostile}});
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->Header("Access-Control-Allow-Origin"), "") << hostile;
    auto pre = Anonymous()->Send("OPTIONS", "/api/analytics/users/count", {}, "application/json",
                                 {{"Origin", hostile}, {"Access-Control-Request-Method", "GET"}});
    EXPECT_EQ(pre->Header("Access-Control-Allow-Origin"), "") << hostile;
    EXPECT_EQ(pre->Header("Access-Control-Allow-Methods"), "") << hostile;
  }
  // A preflight carries no token and is answered.
  auto pre = Anonymous()->Send("OPTIONS", "/api/events", {}, "application/json",
                               {{"Origin", std::string(kOrigin)},
                                {"Access-Control-Request-Method", "POST"},
                                {"Access-Control-Request-Headers", "authorization, content-type"}});
  EXPECT_EQ(pre->status, 204);
  EXPECT_EQ(pre->Header("Access-Control-Allow-Origin"), kOrigin);
  EXPECT_NE(pre->Header("Access-Control-Allow-Methods").find("POST"), std::string::npos);
  EXPECT_NE(pre->Header("Access-Control-Allow-Headers").find("Authorization"), std::string::npos);
  EXPECT_FALSE(pre->Header("Access-Control-Max-Age").empty());
}

TEST_F(SecurityE2e, ASlowClientIsDroppedWhileOthersAreServed) {
  auto& s = StartService({{"HTTP_REQUEST_TIMEOUT_SECONDS", "2"}});
  const int fd = ConnectLoopback(s.port());
  ASSERT_GE(fd, 0);
  const std::string request =
      "GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: " + std::string(200, 'a') + "\r\n\r\n";
  const auto started = Clock::now();
  std::optional<double> dropped_after;
  bool served_meanwhile = false;
  for (std::size_t i = 0; i < request.size(); ++i) {
    if (send(fd, &request[i], 1, MSG_NOSIGNAL) != 1) {
      dropped_after = std::chrono::duration<double>(Clock::now() - started).count();
      break;
    }
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 0) > 0) {
      char c;
      if (recv(fd, &c, 1, MSG_DONTWAIT) <= 0) {
        dropped_after = std::chrono::duration<double>(Clock::now() - started).count();
        break;
      }
    }
    if (i == 3) {
      auto other = AdminClient()->Send("GET", "/api/analytics/users/count");
      served_meanwhile = other && other->status == 200;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  close(fd);
  EXPECT_TRUE(served_meanwhile);
  ASSERT_TRUE(dropped_after) << "a client sending 4 bytes a second was never dropped";
  EXPECT_GE(*dropped_after, 1.5);
  EXPECT_LE(*dropped_after, 5.0);
}

TEST_F(SecurityE2e, ConnectionsPastTheCapAreRefusedAndServedAgainOnceOthersClose) {
  auto& s = StartService({{"HTTP_MAX_CONNECTIONS", "4"}});
  std::vector<int> idle;
  for (int i = 0; i < 4; ++i) {
    idle.push_back(ConnectLoopback(s.port()));
    ASSERT_GE(idle.back(), 0);
  }
  // The fifth is answered 503 and closed; wait for the server to have accepted the four.
  RawReply refused;
  for (int i = 0; i < 50 && refused.Status() != 503; ++i) {
    refused =
        Raw(s.port(), "GET /health HTTP/1.1\r\nHost: x\r\n\r\n", std::chrono::milliseconds(500));
  }
  EXPECT_EQ(refused.Status(), 503) << refused.bytes;
  EXPECT_TRUE(refused.closed);
  for (const int fd : idle) close(fd);
  int status = 0;
  for (int i = 0; i < 50 && status != 200; ++i) {
    status = Raw(s.port(), "GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").Status();
    if (status != 200) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(status, 200);
}

TEST_F(SecurityE2e, FramingThatAProxyCouldReadDifferentlyIsRefusedAndTheConnectionClosed) {
  auto& s = StartService();
  const std::string smuggled = "GET /health HTTP/1.1\r\nHost: x\r\n\r\n";
  const std::string body = "0\r\n\r\n";
  for (const std::string te : {"chunked, identity", "identity", "gzip", "foo", "gzip, chunked",
                               "chunked, chunked", "x-chunked", "chunked;ext=1"}) {
    for (const bool with_length : {false, true}) {
      std::string request =
          "POST /api/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
          "Transfer-Encoding: " +
          te + "\r\n";
      if (with_length)
        request += "Content-Length: " + std::to_string(body.size() + smuggled.size()) + "\r\n";
      request += "\r\n" + body + smuggled;
      const auto r = Raw(s.port(), request);
      EXPECT_TRUE(r.Status() == 400 || r.Status() == 501)
          << te << " / " << with_length << ": " << r.bytes;
      EXPECT_EQ(r.Responses(), 1) << te << ": the bytes after it were served as a request";
      EXPECT_TRUE(r.closed) << te;
    }
  }
  // Two Transfer-Encoding fields, and Transfer-Encoding with Content-Length.
  for (const std::string fields : {"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n",
                                   "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n",
                                   "Content-Length: 5\r\nContent-Length: 6\r\n"}) {
    const auto r = Raw(
        s.port(), "POST /api/events HTTP/1.1\r\nHost: x\r\n" + fields + "\r\n" + body + smuggled);
    EXPECT_TRUE(r.Status() == 400 || r.Status() == 501) << fields << r.bytes;
    EXPECT_EQ(r.Responses(), 1) << fields;
    EXPECT_TRUE(r.closed) << fields;
  }
  // A lone chunked body is fine.
  const std::string event =
      R"({"type":"user.signin","data":{"userId":"u1","timestamp":"2026-01-01T00:00:00Z"}})";
  char size[16];
  std::snprintf(size, sizeof size, "%zx", event.size());
  const auto ok =
      Raw(s.port(), "POST /api/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + Admin() +
                        "\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n" + size +
                        "\r\n" + event + "\r\n0\r\n\r\n");
  EXPECT_EQ(ok.Status(), 200) << ok.bytes;
}

TEST_F(SecurityE2e, PathsParametersAndSizesAreRefusedAsDocumented) {
  auto& s = StartService({{"INGEST_MAX_BODY_BYTES", "65536"}});
  const auto get = [&](const std::string& target, const std::string& extra = {}) {
    return Raw(s.port(), "GET " + target + " HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
                             Admin() + "\r\n" + extra + "Connection: close\r\n\r\n");
  };
  EXPECT_EQ(get("/api/analytics/users/count").Status(), 200);
  EXPECT_EQ(get("/api/analytics/users%2fcount").Status(), 404) << "%2F is not a separator";
  EXPECT_EQ(get("/api/analytics/users%2Fcount").Status(), 404);
  const auto bad_bytes = get("/%ff%fe");
  EXPECT_EQ(bad_bytes.Status(), 404);
  boost::system::error_code ec;
  json::parse(Body(bad_bytes), ec);
  EXPECT_FALSE(ec) << "the error body is valid UTF-8 JSON: " << Body(bad_bytes);
  const auto dup = get("/api/analytics/users/count?tz=UTC&tz=Europe/Berlin");
  EXPECT_EQ(dup.Status(), 400);
  EXPECT_EQ(json::parse(Body(dup)).at("error").at("field").as_string(), "tz");
  EXPECT_EQ(get("/api/analytics/users/count?startDate=1989-12-31").Status(), 400);
  EXPECT_EQ(get("/api/analytics/users/count?endDate=2100-01-03").Status(), 400);
  EXPECT_EQ(get("/api/analytics/users/count?x=" + std::string(10'000, 'a')).Status(), 414);
  EXPECT_EQ(get("/health", "X-Big: " + std::string(20'000, 'a') + "\r\n").Status(), 431);
  EXPECT_EQ(get("/health", "X-Huge: " + std::string(200'000, 'a') + "\r\n").Status(), 431);
  const auto big =
      Raw(s.port(), "POST /api/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + Admin() +
                        "\r\nContent-Length: 100000\r\n\r\n" + std::string(100'000, ' '));
  EXPECT_EQ(big.Status(), 413);
  // Tokens stated as numbers the docs reject are refused, not stored as 0.
  const std::string tiny =
      R"({"type":"chat.message_sent","data":{"userId":"u1","timestamp":"2026-01-01T00:00:00Z",)"
      R"("conversationId":"c1","messageId":"m1","provider":"openai","model":"gpt-4o","tokens":1e-400}})";
  auto r = AdminClient()->Send("POST", "/api/events", tiny);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400) << r->body;
  // Duplicate keys in an event are refused, not first- or last-wins.
  auto dup_key = AdminClient()->Send(
      "POST", "/api/events",
      R"({"type":"user.signin","data":{"userId":"u1","userId":"u2","timestamp":"2026-01-01T00:00:00Z"}})");
  ASSERT_TRUE(dup_key);
  EXPECT_EQ(dup_key->status, 400) << dup_key->body;
}

TEST_F(SecurityE2e, EachAnalyticsRequestLeavesOneAuditLineWithoutTheToken) {
  auto& s = StartService();
  const auto token = Hs256(Claims("auditor"));
  ASSERT_EQ(
      Get("/api/analytics/revenue/mrr?startDate=2026-01-01&endDate=2026-02-01", token)->status,
      200);
  ASSERT_EQ(Get("/api/analytics/users/count", Hs256(Claims("auditor-viewer", "viewer")))->status,
            403);
  // The line is written before the answer goes out; read the log once the state is there.
  std::string log;
  for (int i = 0; i < 50; ++i) {
    log = s.Log();
    if (log.find("auditor-viewer") != std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_NE(log.find("audit principal=auditor method=GET route=/api/analytics/revenue/mrr "
                     "startDate=2026-01-01 endDate=2026-02-01 status=200"),
            std::string::npos)
      << log;
  EXPECT_NE(log.find("audit principal=auditor-viewer method=GET route=/api/analytics/users/count"),
            std::string::npos);
  EXPECT_EQ(log.find(token.substr(token.rfind('.') + 1)), std::string::npos);
  EXPECT_EQ(log.find(token.substr(0, 30)), std::string::npos);
}

TEST_F(SecurityE2e, DevelopmentCreatesAPrivateSecretAndTheTokenCommandUsesIt) {
  auto& s = StartService({{"JWT_SECRET", ""},
                          {"JWKS_FILE", ""},
                          {"JWT_ISSUER", ""},
                          {"JWT_AUDIENCE", ""},
                          {"JWT_ALGORITHMS", "HS256"}});
  const auto secret = s.data_dir() / "jwt-dev-secret";
  struct stat st {};
  ASSERT_EQ(stat(secret.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);
  EXPECT_EQ(Get("/api/analytics/users/count", Admin())->status, 401)
      << "the test secret is not the development secret";
  const std::string command = std::string("DATA_DIR=") + s.data_dir().string() + " " +
                              ANALYTICS_SERVICE_BINARY + " token --sub dev 2>/dev/null";
  std::FILE* p = popen(command.c_str(), "r");
  ASSERT_NE(p, nullptr);
  char buf[4096] = {};
  const auto n = std::fread(buf, 1, sizeof buf - 1, p);
  pclose(p);
  std::string token(buf, n);
  while (!token.empty() && token.back() == '\n') token.pop_back();
  EXPECT_EQ(Get("/api/analytics/users/count", token)->status, 200);
}

TEST_F(SecurityE2e, ProductionRefusesToStartWithoutKeyMaterial) {
  ServiceProcess s(dir_, {{"ANALYTICS_ENV", "production"},
                          {"PSEUDONYMIZATION_KEY", "a-production-pseudonymization-key"},
                          {"JWT_SECRET", ""}});
  EXPECT_FALSE(s.Start());
  EXPECT_NE(s.Log().find("JWT_SECRET"), std::string::npos) << s.Log();
  EXPECT_FALSE(std::filesystem::exists(dir_ / "jwt-dev-secret"));
}

}  // namespace
}  // namespace e2e
