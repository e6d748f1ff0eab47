#include "adapters/jwt/jwt_verifier.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "adapters/jwt/base64_url.hpp"
#include "adapters/jwt/testing/test_keys.hpp"

namespace adapters::jwt {
namespace {

namespace fs = std::filesystem;
using testing::Key;

constexpr std::int64_t kNow = 1'704'067'200;  // 2024-01-01T00:00:00Z
constexpr char kSecret[] = "test-secret-0123456789abcdef-0123456789";
constexpr char kIssuer[] = "https://auth.example";
constexpr char kAudience[] = "analytics";

constexpr char kHsHeader[] = R"({"alg":"HS256","typ":"JWT"})";
constexpr char kRsHeader[] = R"({"alg":"RS256","kid":"rsa-1"})";
constexpr char kEsHeader[] = R"({"alg":"ES256","kid":"ec-1"})";

base::TimePoint At(double seconds) {
  return base::TimePoint(std::chrono::milliseconds(std::llround(seconds * 1000)));
}

// Claims every verifier below accepts, followed by `extra` members.
std::string GoodClaims(std::string_view extra = R"("role":"analyst")") {
  std::string out = R"({"sub":"user-1","iss":"https://auth.example","aud":"analytics","exp":)" +
                    std::to_string(kNow + 3600);
  if (!extra.empty()) out += "," + std::string(extra);
  return out + "}";
}

// Claims with only iss and aud fixed: the test supplies exp and the rest.
std::string ClaimsWith(std::string_view members) {
  return R"({"sub":"user-1","iss":"https://auth.example","aud":"analytics",)" +
         std::string(members) + "}";
}

std::string SignatureOf(std::string_view token) {
  return DecodeBase64Url(token.substr(token.rfind('.') + 1)).value_or("");
}

std::string WithSignature(std::string_view token, std::string_view signature) {
  return std::string(token.substr(0, token.rfind('.') + 1)) + EncodeBase64Url(signature);
}

std::string FlipSignatureBit(std::string_view token) {
  std::string signature = SignatureOf(token);
  signature[signature.size() / 2] = static_cast<char>(signature[signature.size() / 2] ^ 0x01);
  return WithSignature(token, signature);
}

// The token's header and signature around a different payload.
std::string WithPayload(std::string_view token, std::string_view payload_json) {
  const auto first = token.find('.');
  const auto last = token.rfind('.');
  return std::string(token.substr(0, first + 1)) + EncodeBase64Url(payload_json) +
         std::string(token.substr(last));
}

std::string WithHeader(std::string_view token, std::string_view header_json) {
  return EncodeBase64Url(header_json) + std::string(token.substr(token.find('.')));
}

// A signing input made of raw segment text, signed with the real secret: reaches the checks
// that run after the signature.
std::string SignRawHs256(std::string_view header_b64, std::string_view payload_b64) {
  const std::string input = std::string(header_b64) + "." + std::string(payload_b64);
  return testing::Join(input, testing::HmacSha256(kSecret, input));
}

void WriteFile(const fs::path& path, std::string_view content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
  out.close();
  ASSERT_TRUE(out) << path;
}

struct ForgedCase {
  std::string name;
  std::string token;
  std::string reason;
};

void ExpectRefused(const JwtVerifier& verifier, std::string_view token, std::string_view reason) {
  const auto result = verifier.Verify(token);
  ASSERT_FALSE(result.has_value()) << "accepted";
  EXPECT_EQ(result.error().code, base::ErrorCode::kUnauthenticated);
  EXPECT_EQ(result.error().message, reason);
}

void ExpectAllRefused(const JwtVerifier& verifier, const std::vector<ForgedCase>& cases) {
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    ExpectRefused(verifier, c.token, c.reason);
  }
}

// A fresh directory per test, removed afterwards.
class TempDirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    static std::atomic<int> counter{0};
    dir_ = fs::path(::testing::TempDir()) /
           ("jwt_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    fs::create_directories(dir_);
  }
  void TearDown() override {
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }

  fs::path dir_;
};

class JwtVerifierTest : public TempDirTest {
 protected:
  struct Keys {
    Key rsa = testing::GenerateRsaKey();
    Key ec = testing::GenerateEcKey();
    Key attacker_rsa = testing::GenerateRsaKey();
    Key attacker_ec = testing::GenerateEcKey();
    Key next_rsa = testing::GenerateRsaKey();
  };

  // Generated once per process; RSA key generation is slow.
  static const Keys& K() {
    static const Keys* const keys = new Keys();
    return *keys;
  }

  std::string RsaJwk() const { return testing::PublicJwk(K().rsa, "rsa-1", "RS256", "sig"); }
  std::string EcJwk() const { return testing::PublicJwk(K().ec, "ec-1"); }

  std::string WriteJwks(const std::vector<std::string>& jwks) {
    const fs::path path = dir_ / "jwks.json";
    WriteFile(path, testing::JwkSetJson(jwks));
    return path.string();
  }

  JwtVerifier::Options Options(std::vector<std::string> algorithms) const {
    JwtVerifier::Options options;
    options.algorithms = std::move(algorithms);
    options.issuer = kIssuer;
    options.audience = kAudience;
    return options;
  }

  // HS256, RS256 and ES256; the secret and a JWKS of one RSA ("rsa-1") and one EC ("ec-1") key.
  JwtVerifier::Options AllOptions() {
    auto options = Options({"HS256", "RS256", "ES256"});
    options.hmac_secret = kSecret;
    options.jwks_file = WriteJwks({RsaJwk(), EcJwk()});
    return options;
  }

  std::unique_ptr<JwtVerifier> Make(JwtVerifier::Options options) {
    auto verifier = JwtVerifier::Create(std::move(options), clock_);
    EXPECT_TRUE(verifier.has_value()) << verifier.error().message;
    return verifier ? std::move(*verifier) : nullptr;
  }

  std::string Rs(std::string_view header, std::string_view claims) const {
    return testing::SignedRs256(K().rsa, header, claims);
  }
  std::string Es(std::string_view header, std::string_view claims) const {
    return testing::SignedEs256(K().ec, header, claims);
  }
  static std::string Hs(std::string_view header, std::string_view claims) {
    return testing::SignedHs256(kSecret, header, claims);
  }

  base::FixedClock clock_{At(kNow)};
};

TEST_F(JwtVerifierTest, AcceptsHs256WithRoleString) {
  const auto verifier = Make(AllOptions());
  ASSERT_NE(verifier, nullptr);
  const auto result = verifier->Verify(MintHs256(kSecret, GoodClaims(R"("role":"admin")")));
  ASSERT_TRUE(result.has_value()) << result.error().message;
  EXPECT_EQ(result->subject, "user-1");
  EXPECT_EQ(result->roles, std::vector<std::string>{"admin"});
  EXPECT_EQ(result->expires_at, At(kNow + 3600));
}

TEST_F(JwtVerifierTest, AcceptsRs256FromPemWithRolesArray) {
  auto options = Options({"RS256"});
  options.public_key_pem = testing::PublicKeyPem(K().rsa);
  const auto verifier = Make(options);
  ASSERT_NE(verifier, nullptr);
  // With no JWKS, "kid" plays no part.
  const auto result = verifier->Verify(
      Rs(R"({"alg":"RS256","typ":"JWT"})", GoodClaims(R"("role":["admin","ops"])")));
  ASSERT_TRUE(result.has_value()) << result.error().message;
  EXPECT_EQ(result->subject, "user-1");
  EXPECT_EQ(result->roles, (std::vector<std::string>{"admin", "ops"}));
}

TEST_F(JwtVerifierTest, AcceptsEs256FromPem) {
  auto options = Options({"ES256"});
  options.public_key_pem = testing::PublicKeyPem(K().ec);
  const auto verifier = Make(options);
  ASSERT_NE(verifier, nullptr);
  const auto result = verifier->Verify(Es(R"({"alg":"ES256"})", GoodClaims()));
  ASSERT_TRUE(result.has_value()) << result.error().message;
  EXPECT_EQ(result->roles, std::vector<std::string>{"analyst"});
}

TEST_F(JwtVerifierTest, AcceptsRs256AndEs256FromJwksWithDottedRolePath) {
  auto options = AllOptions();
  options.role_claim = "realm_access.roles";
  const auto verifier = Make(options);
  ASSERT_NE(verifier, nullptr);
  const std::string claims = GoodClaims(R"("realm_access":{"roles":["admin","viewer"]})");
  for (const auto& token : {Rs(kRsHeader, claims), Es(kEsHeader, claims)}) {
    const auto result = verifier->Verify(token);
    ASSERT_TRUE(result.has_value()) << result.error().message;
    EXPECT_EQ(result->subject, "user-1");
    EXPECT_EQ(result->roles, (std::vector<std::string>{"admin", "viewer"}));
  }
  // A path that is absent gives no roles rather than a refusal.
  const auto no_roles = verifier->Verify(Rs(kRsHeader, GoodClaims(R"("role":"admin")")));
  ASSERT_TRUE(no_roles.has_value()) << no_roles.error().message;
  EXPECT_TRUE(no_roles->roles.empty());
}

TEST_F(JwtVerifierTest, PemKeyServesTokensWithoutKidWhenJwksIsAlsoConfigured) {
  auto options = AllOptions();
  options.public_key_pem = testing::PublicKeyPem(K().next_rsa);
  const auto verifier = Make(options);
  ASSERT_NE(verifier, nullptr);
  const auto by_pem =
      verifier->Verify(testing::SignedRs256(K().next_rsa, R"({"alg":"RS256"})", GoodClaims()));
  EXPECT_TRUE(by_pem.has_value()) << by_pem.error().message;
  const auto by_kid = verifier->Verify(Rs(kRsHeader, GoodClaims()));
  EXPECT_TRUE(by_kid.has_value()) << by_kid.error().message;
  // Without a kid only the PEM key is tried, so a JWKS key's token fails.
  ExpectRefused(*verifier, Rs(R"({"alg":"RS256"})", GoodClaims()), "bad signature");
}

TEST_F(JwtVerifierTest, LeewayBoundsExpAndNbf) {
  const auto verifier = Make(AllOptions());
  ASSERT_NE(verifier, nullptr);
  const std::string token = Hs(kHsHeader, ClaimsWith(R"("exp":1704067200)"));
  clock_.Set(At(kNow + 59.999));
  EXPECT_TRUE(verifier->Verify(token).has_value());
  clock_.Set(At(kNow + 60));
  ExpectRefused(*verifier, token, "token expired");

  const std::string early = Hs(kHsHeader, ClaimsWith(R"("exp":1704070800,"nbf":1704067260)"));
  clock_.Set(At(kNow));
  EXPECT_TRUE(verifier->Verify(early).has_value());
  clock_.Set(At(kNow - 0.001));
  ExpectRefused(*verifier, early, "token not yet valid");
}

TEST_F(JwtVerifierTest, AcceptsTokensUpToTheSizeLimit) {
  const auto verifier = Make(AllOptions());
  ASSERT_NE(verifier, nullptr);
  const std::string token =
      Hs(kHsHeader, GoodClaims(R"("pad":")" + std::string(5800, 'a') + R"(","role":"admin")"));
  ASSERT_LE(token.size(), 8192u);
  ASSERT_GT(token.size(), 7800u);
  const auto result = verifier->Verify(token);
  ASSERT_TRUE(result.has_value()) << result.error().message;
  EXPECT_EQ(result->roles, std::vector<std::string>{"admin"});
}

TEST_F(JwtVerifierTest, ExpMayHaveAFraction) {
  const auto verifier = Make(AllOptions());
  ASSERT_NE(verifier, nullptr);
  const auto result = verifier->Verify(Hs(kHsHeader, ClaimsWith(R"("exp":1704070800.25)")));
  ASSERT_TRUE(result.has_value()) << result.error().message;
  EXPECT_EQ(result->expires_at, At(kNow + 3600.25));
}

TEST_F(JwtVerifierTest, AcceptsKnownTypesAudienceArraysAndNoOptionalClaims) {
  const auto verifier = Make(AllOptions());
  ASSERT_NE(verifier, nullptr);
  for (const char* typ : {"JWT", "jwt", "at+jwt", "AT+JWT", "application/at+jwt"}) {
    SCOPED_TRACE(typ);
    const auto result =
        verifier->Verify(Hs(std::string(R"({"alg":"HS256","typ":")") + typ + "\"}", GoodClaims()));
    EXPECT_TRUE(result.has_value()) << result.error().message;
  }
  const auto array =
      verifier->Verify(Hs(kHsHeader, R"({"iss":"https://auth.example","aud":["other","analytics"],)"
                                     R"("exp":1704070800,"iat":1704067000,"nbf":1704067000})"));
  ASSERT_TRUE(array.has_value()) << array.error().message;
  EXPECT_EQ(array->subject, "");
  EXPECT_TRUE(array->roles.empty());

  auto open = Options({"HS256"});
  open.hmac_secret = kSecret;
  open.issuer.clear();
  open.audience.clear();
  const auto lax = Make(open);
  ASSERT_NE(lax, nullptr);
  EXPECT_TRUE(lax->Verify(Hs(kHsHeader, R"({"exp":1704070800})")).has_value());
}

TEST_F(JwtVerifierTest, KeyPointingHeadersAreIgnoredNotFollowed) {
  const auto verifier = Make(AllOptions());
  ASSERT_NE(verifier, nullptr);
  // Signed by the configured key: the jku is neither fetched nor a reason to refuse.
  const auto result = verifier->Verify(Rs(
      R"({"alg":"RS256","kid":"rsa-1","jku":"https://attacker.example/jwks.json"})", GoodClaims()));
  EXPECT_TRUE(result.has_value()) << result.error().message;
}

TEST_F(JwtVerifierTest, RefusesForgedTokensWithEveryAlgorithmConfigured) {
  const auto verifier = Make(AllOptions());
  ASSERT_NE(verifier, nullptr);
  const std::string admin = GoodClaims(R"("role":"admin")");
  const std::string rs = Rs(kRsHeader, GoodClaims());
  const std::string hs = Hs(kHsHeader, GoodClaims());
  const std::string es = Es(kEsHeader, GoodClaims());
  ASSERT_TRUE(verifier->Verify(rs).has_value());
  ASSERT_TRUE(verifier->Verify(hs).has_value());
  ASSERT_TRUE(verifier->Verify(es).has_value());

  std::vector<ForgedCase> cases;
  for (const char* none : {"none", "None", "NONE", "nOnE"}) {
    const std::string input =
        testing::SigningInput(std::string(R"({"alg":")") + none + R"(","typ":"JWT"})", admin);
    cases.push_back({std::string(none) + " unsigned", input + ".", "algorithm not allowed"});
    cases.push_back({std::string(none) + " junk signature", testing::Join(input, "not-a-signature"),
                     "algorithm not allowed"});
    cases.push_back({std::string(none) + " signed with the secret",
                     testing::Join(input, testing::HmacSha256(kSecret, input)),
                     "algorithm not allowed"});
  }
  cases.push_back({"alg lower case", Hs(R"({"alg":"hs256"})", admin), "algorithm not allowed"});
  cases.push_back({"alg HS512", Hs(R"({"alg":"HS512"})", admin), "algorithm not allowed"});
  cases.push_back({"alg PS256", Hs(R"({"alg":"PS256"})", admin), "algorithm not allowed"});
  cases.push_back({"alg missing", Hs(R"({"typ":"JWT"})", admin), "missing algorithm"});
  cases.push_back({"alg a number", Hs(R"({"alg":256})", admin), "algorithm not allowed"});
  cases.push_back({"alg an array", Hs(R"({"alg":["HS256"]})", admin), "algorithm not allowed"});

  // Signature tampering.
  cases.push_back({"stripped signature", rs.substr(0, rs.rfind('.') + 1), "missing signature"});
  cases.push_back({"stripped signature and dot", rs.substr(0, rs.rfind('.')), "malformed token"});
  cases.push_back({"truncated signature",
                   WithSignature(rs, SignatureOf(rs).substr(0, SignatureOf(rs).size() - 3)),
                   "bad signature"});
  cases.push_back({"RS256 bit flipped", FlipSignatureBit(rs), "bad signature"});
  cases.push_back({"HS256 bit flipped", FlipSignatureBit(hs), "bad signature"});
  cases.push_back({"ES256 bit flipped", FlipSignatureBit(es), "bad signature"});
  cases.push_back({"RS256 payload made admin", WithPayload(rs, admin), "bad signature"});
  cases.push_back({"HS256 payload made admin", WithPayload(hs, admin), "bad signature"});
  cases.push_back({"ES256 payload made admin", WithPayload(es, admin), "bad signature"});
  cases.push_back({"header altered", WithHeader(rs, R"({"alg":"RS256","kid":"rsa-1","typ":"JWT"})"),
                   "bad signature"});
  cases.push_back({"HS256 signed with the EC JWK as secret",
                   testing::SignedHs256(EcJwk(), kHsHeader, admin), "bad signature"});
  cases.push_back({"HS256 signed with the RSA JWK as secret",
                   testing::SignedHs256(RsaJwk(), kHsHeader, admin), "bad signature"});

  // Key selection.
  const std::string attacker_rsa_jwk = testing::PublicJwk(K().attacker_rsa, "rsa-1");
  const std::string attacker_ec_jwk = testing::PublicJwk(K().attacker_ec, "ec-1");
  cases.push_back(
      {"unknown kid",
       testing::SignedRs256(K().attacker_rsa, R"({"alg":"RS256","kid":"attacker"})", admin),
       "unknown key id"});
  cases.push_back(
      {"unknown kid, real key", Rs(R"({"alg":"RS256","kid":"rsa-2"})", admin), "unknown key id"});
  cases.push_back({"missing kid RS256", Rs(R"({"alg":"RS256"})", admin), "missing key id"});
  cases.push_back({"missing kid ES256", Es(R"({"alg":"ES256"})", admin), "missing key id"});
  cases.push_back({"unknown kid ES256",
                   testing::SignedEs256(K().attacker_ec, R"({"alg":"ES256","kid":"x"})", admin),
                   "unknown key id"});
  cases.push_back({"RS256 naming the EC key's kid", Rs(R"({"alg":"RS256","kid":"ec-1"})", admin),
                   "unknown key id"});
  cases.push_back({"ES256 naming the RSA key's kid", Es(R"({"alg":"ES256","kid":"rsa-1"})", admin),
                   "unknown key id"});
  cases.push_back({"kid a number", Rs(R"({"alg":"RS256","kid":1})", admin), "bad key id"});
  cases.push_back(
      {"jku to attacker's set, attacker's kid",
       testing::SignedRs256(
           K().attacker_rsa,
           R"({"alg":"RS256","kid":"attacker","jku":"https://attacker.example/jwks.json"})", admin),
       "unknown key id"});
  cases.push_back(
      {"jku to attacker's set, configured kid",
       testing::SignedRs256(
           K().attacker_rsa,
           R"({"alg":"RS256","kid":"rsa-1","jku":"https://attacker.example/jwks.json"})", admin),
       "bad signature"});
  cases.push_back(
      {"x5u to attacker's certificate",
       testing::SignedRs256(
           K().attacker_rsa,
           R"({"alg":"RS256","kid":"rsa-1","x5u":"https://attacker.example/c.pem"})", admin),
       "bad signature"});
  cases.push_back({"embedded attacker RSA jwk",
                   testing::SignedRs256(
                       K().attacker_rsa,
                       R"({"alg":"RS256","kid":"rsa-1","jwk":)" + attacker_rsa_jwk + "}", admin),
                   "bad signature"});
  cases.push_back(
      {"embedded attacker EC jwk",
       testing::SignedEs256(K().attacker_ec,
                            R"({"alg":"ES256","kid":"ec-1","jwk":)" + attacker_ec_jwk + "}", admin),
       "bad signature"});
  cases.push_back({"embedded attacker jwk, no kid",
                   testing::SignedRs256(K().attacker_rsa,
                                        R"({"alg":"RS256","jwk":)" + attacker_rsa_jwk + "}", admin),
                   "missing key id"});

  // Other header members.
  cases.push_back(
      {"typ JOSE", Hs(R"({"alg":"HS256","typ":"JOSE"})", admin), "unsupported token type"});
  cases.push_back(
      {"typ a number", Hs(R"({"alg":"HS256","typ":1})", admin), "unsupported token type"});
  cases.push_back({"crit", Hs(R"({"alg":"HS256","crit":["exp"],"exp":1})", admin),
                   "critical header not supported"});

  // ES256 signature forms.
  const std::string es_input = testing::SigningInput(kEsHeader, admin);
  const std::string es_der = testing::SignSha256(K().ec, es_input);
  const std::string es_raw = testing::EcdsaDerToRaw(es_der);
  cases.push_back({"ES256 DER signature", testing::Join(es_input, es_der), "bad signature"});
  cases.push_back({"ES256 r zero",
                   testing::Join(es_input, std::string(32, '\0') + es_raw.substr(32)),
                   "bad signature"});
  cases.push_back({"ES256 s zero",
                   testing::Join(es_input, es_raw.substr(0, 32) + std::string(32, '\0')),
                   "bad signature"});
  cases.push_back(
      {"ES256 r and s zero", testing::Join(es_input, std::string(64, '\0')), "bad signature"});
  cases.push_back({"ES256 65 bytes", testing::Join(es_input, es_raw + '\x01'), "bad signature"});

  ExpectAllRefused(*verifier, cases);
}

TEST_F(JwtVerifierTest, RefusesMalformedTokens) {
  const auto verifier = Make(AllOptions());
  ASSERT_NE(verifier, nullptr);
  const std::string hs = Hs(kHsHeader, GoodClaims());
  const auto first = hs.find('.');
  const auto last = hs.rfind('.');
  const std::string header_b64 = hs.substr(0, first);
  const std::string payload_b64 = hs.substr(first + 1, last - first - 1);
  const std::string signature_b64 = hs.substr(last + 1);

  // Payload text of 3n+1 bytes: its base64url ends in a character with four unused bits.
  std::string odd_payload = GoodClaims();
  while (odd_payload.size() % 3 != 1) odd_payload += ' ';
  std::string non_canonical = EncodeBase64Url(odd_payload);
  constexpr std::string_view kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  non_canonical.back() = kAlphabet[kAlphabet.find(non_canonical.back()) | 1];

  const std::vector<ForgedCase> cases = {
      {"plus", header_b64 + "+." + payload_b64 + "." + signature_b64, "malformed token"},
      {"slash", header_b64 + "." + payload_b64 + "/." + signature_b64, "malformed token"},
      {"padding", header_b64 + "==." + payload_b64 + "." + signature_b64, "malformed token"},
      {"space inside", header_b64 + ". " + payload_b64 + "." + signature_b64, "malformed token"},
      {"trailing newline", hs + "\n", "malformed token"},
      {"leading space", " " + hs, "malformed token"},
      {"NUL byte", hs + std::string(1, '\0'), "malformed token"},
      {"non-canonical trailing bits", SignRawHs256(header_b64, non_canonical), "malformed token"},
      {"segment of 4n+1 characters",
       SignRawHs256(header_b64, payload_b64.substr(0, payload_b64.size() / 4 * 4) + "A"),
       "malformed token"},
      {"one segment", header_b64, "malformed token"},
      {"two segments", header_b64 + "." + payload_b64, "malformed token"},
      {"four segments", hs + "." + signature_b64, "malformed token"},
      {"empty", "", "malformed token"},
      {"dots only", "..", "malformed token"},
      {"empty header", "." + payload_b64 + "." + signature_b64, "malformed token"},
      {"empty payload", header_b64 + ".." + signature_b64, "malformed token"},
      {"header not JSON", Hs("this is not json", GoodClaims()), "malformed header"},
      {"header an array", Hs(R"(["HS256"])", GoodClaims()), "malformed header"},
      {"header with trailing bytes", Hs(R"({"alg":"HS256"}x)", GoodClaims()), "malformed header"},
      {"header invalid UTF-8", Hs("{\"alg\":\"HS256\",\"x\":\"\xc0\xaf\"}", GoodClaims()),
       "malformed header"},
      {"payload an array", Hs(kHsHeader, "[1,2]"), "malformed payload"},
      {"payload a number", Hs(kHsHeader, "1704070800"), "malformed payload"},
      {"payload a string", Hs(kHsHeader, R"("admin")"), "malformed payload"},
      {"payload null", Hs(kHsHeader, "null"), "malformed payload"},
      {"payload truncated JSON", Hs(kHsHeader, R"({"exp":1704070800)"), "malformed payload"},
      {"payload invalid UTF-8", Hs(kHsHeader, GoodClaims("\"name\":\"\xff\xfe\"")),
       "malformed payload"},
      {"payload invalid UTF-8 in a member name", Hs(kHsHeader, GoodClaims("\"r\xe9le\":\"x\"")),
       "malformed payload"},
      {"payload nested too deep",
       Hs(kHsHeader, GoodClaims(R"("x":)" + std::string(40, '[') + std::string(40, ']'))),
       "malformed payload"},
      {"large payload nested too deep",
       Hs(kHsHeader, GoodClaims(R"("pad":")" + std::string(4500, 'a') + R"(","x":)" +
                                std::string(40, '[') + std::string(40, ']'))),
       "malformed payload"},
      {"two role claims", Hs(kHsHeader, GoodClaims(R"("role":"viewer","role":"admin")")),
       "duplicate claim"},
      {"two exp claims", Hs(kHsHeader, GoodClaims(R"("exp":1)")), "duplicate claim"},
      {"duplicate spelled with an escape",
       Hs(kHsHeader, GoodClaims(R"("role":"viewer","r\u006fle":"admin")")), "duplicate claim"},
      {"duplicate in a nested object",
       Hs(kHsHeader, GoodClaims(R"("realm_access":{"roles":["a"],"roles":["admin"]})")),
       "duplicate claim"},
      {"two alg in header", Hs(R"({"alg":"HS256","alg":"none"})", GoodClaims()),
       "duplicate header member"},
      {"100 KB token",
       MintHs256(kSecret, GoodClaims(R"("pad":")" + std::string(100 * 1024, 'a') + "\"")),
       "token too large"},
  };
  ExpectAllRefused(*verifier, cases);
}

TEST_F(JwtVerifierTest, RefusesBadClaims) {
  const auto verifier = Make(AllOptions());
  ASSERT_NE(verifier, nullptr);
  const std::vector<ForgedCase> cases = {
      {"expired just past leeway", Hs(kHsHeader, ClaimsWith(R"("exp":1704067140)")),
       "token expired"},
      {"long expired", Hs(kHsHeader, ClaimsWith(R"("exp":1000)")), "token expired"},
      {"not yet valid", Hs(kHsHeader, ClaimsWith(R"("exp":1704070800,"nbf":1704067261)")),
       "token not yet valid"},
      {"missing exp", Hs(kHsHeader, ClaimsWith(R"("role":"admin")")), "missing exp"},
      {"exp a string", Hs(kHsHeader, ClaimsWith(R"("exp":"1704070800")")), "bad exp"},
      {"exp 1e300", Hs(kHsHeader, ClaimsWith(R"("exp":1e300)")), "bad exp"},
      {"exp 2^63", Hs(kHsHeader, ClaimsWith(R"("exp":9223372036854775808)")), "bad exp"},
      {"exp 9999999999999999999", Hs(kHsHeader, ClaimsWith(R"("exp":9999999999999999999)")),
       "bad exp"},
      {"exp 2^53 + 1", Hs(kHsHeader, ClaimsWith(R"("exp":9007199254740993)")), "bad exp"},
      {"exp beyond any number", Hs(kHsHeader, ClaimsWith(R"("exp":1e400)")), "malformed payload"},
      {"exp negative", Hs(kHsHeader, ClaimsWith(R"("exp":-1)")), "bad exp"},
      {"exp true", Hs(kHsHeader, ClaimsWith(R"("exp":true)")), "bad exp"},
      {"exp null", Hs(kHsHeader, ClaimsWith(R"("exp":null)")), "bad exp"},
      {"nbf a string", Hs(kHsHeader, ClaimsWith(R"("exp":1704070800,"nbf":"0")")), "bad nbf"},
      {"iat a string", Hs(kHsHeader, ClaimsWith(R"("exp":1704070800,"iat":"now")")), "bad iat"},
      {"wrong issuer",
       Hs(kHsHeader, R"({"iss":"https://evil.example","aud":"analytics","exp":1704070800})"),
       "wrong issuer"},
      {"issuer differs in case",
       Hs(kHsHeader, R"({"iss":"https://AUTH.example","aud":"analytics","exp":1704070800})"),
       "wrong issuer"},
      {"missing issuer", Hs(kHsHeader, R"({"aud":"analytics","exp":1704070800})"), "wrong issuer"},
      {"issuer a number", Hs(kHsHeader, R"({"iss":1,"aud":"analytics","exp":1704070800})"),
       "bad issuer"},
      {"wrong audience",
       Hs(kHsHeader, R"({"iss":"https://auth.example","aud":"billing","exp":1704070800})"),
       "wrong audience"},
      {"wrong audience array",
       Hs(kHsHeader,
          R"({"iss":"https://auth.example","aud":["billing","admin"],"exp":1704070800})"),
       "wrong audience"},
      {"empty audience array",
       Hs(kHsHeader, R"({"iss":"https://auth.example","aud":[],"exp":1704070800})"),
       "wrong audience"},
      {"missing audience", Hs(kHsHeader, R"({"iss":"https://auth.example","exp":1704070800})"),
       "wrong audience"},
      {"audience array with a number",
       Hs(kHsHeader, R"({"iss":"https://auth.example","aud":["analytics",1],"exp":1704070800})"),
       "bad audience"},
      {"audience an object",
       Hs(kHsHeader, R"({"iss":"https://auth.example","aud":{"a":1},"exp":1704070800})"),
       "bad audience"},
      {"subject a number", Hs(kHsHeader, GoodClaims().replace(7, 8, "42")), "bad subject"},
      {"role an object", Hs(kHsHeader, GoodClaims(R"("role":{"admin":true})")), "bad role claim"},
      {"role array with a number", Hs(kHsHeader, GoodClaims(R"("role":["viewer",1])")),
       "bad role claim"},
  };
  ExpectAllRefused(*verifier, cases);
}

TEST_F(JwtVerifierTest, RsaOnlyConfigRefusesKeyConfusion) {
  auto options = Options({"RS256"});
  options.public_key_pem = testing::PublicKeyPem(K().rsa);
  const auto verifier = Make(options);
  ASSERT_NE(verifier, nullptr);
  const std::string admin = GoodClaims(R"("role":"admin")");
  ExpectAllRefused(
      *verifier,
      {
          {"HS256 keyed with the RSA PEM",
           testing::SignedHs256(testing::PublicKeyPem(K().rsa), kHsHeader, admin),
           "algorithm not allowed"},
          {"HS256 keyed with the RSA DER",
           testing::SignedHs256(testing::PublicKeyDer(K().rsa), kHsHeader, admin),
           "algorithm not allowed"},
          {"HS256 keyed with the RSA JWK", testing::SignedHs256(RsaJwk(), kHsHeader, admin),
           "algorithm not allowed"},
          {"ES256 token", Es(R"({"alg":"ES256"})", admin), "algorithm not allowed"},
          {"RS256 by another key",
           testing::SignedRs256(K().attacker_rsa, R"({"alg":"RS256"})", admin), "bad signature"},
      });
}

TEST_F(JwtVerifierTest, EcOnlyConfigRefusesKeyConfusionAndRs256) {
  auto options = Options({"ES256"});
  options.public_key_pem = testing::PublicKeyPem(K().ec);
  const auto verifier = Make(options);
  ASSERT_NE(verifier, nullptr);
  const std::string admin = GoodClaims(R"("role":"admin")");
  ExpectAllRefused(*verifier,
                   {
                       {"HS256 keyed with the EC PEM",
                        testing::SignedHs256(testing::PublicKeyPem(K().ec), kHsHeader, admin),
                        "algorithm not allowed"},
                       {"HS256 keyed with the EC DER",
                        testing::SignedHs256(testing::PublicKeyDer(K().ec), kHsHeader, admin),
                        "algorithm not allowed"},
                       {"HS256 keyed with the EC JWK",
                        testing::SignedHs256(EcJwk(), kHsHeader, admin), "algorithm not allowed"},
                       {"RS256 token", Rs(R"({"alg":"RS256"})", admin), "algorithm not allowed"},
                   });

  auto both = Options({"RS256", "ES256"});
  both.public_key_pem = testing::PublicKeyPem(K().ec);
  const auto ec_keys_only = Make(both);
  ASSERT_NE(ec_keys_only, nullptr);
  ExpectRefused(*ec_keys_only, Rs(R"({"alg":"RS256"})", admin), "no key for algorithm");
}

TEST_F(JwtVerifierTest, HmacNeverUsesPublicKeysEvenWhenHs256IsAllowed) {
  const std::string admin = GoodClaims(R"("role":"admin")");
  for (const Key& key : {K().rsa, K().ec}) {
    auto options = Options({"HS256", "RS256", "ES256"});
    options.hmac_secret = kSecret;
    options.public_key_pem = testing::PublicKeyPem(key);
    const auto verifier = Make(options);
    ASSERT_NE(verifier, nullptr);
    ExpectAllRefused(
        *verifier,
        {
            {"HS256 keyed with the PEM",
             testing::SignedHs256(testing::PublicKeyPem(key), kHsHeader, admin), "bad signature"},
            {"HS256 keyed with the DER",
             testing::SignedHs256(testing::PublicKeyDer(key), kHsHeader, admin), "bad signature"},
            {"HS256 keyed with the JWK",
             testing::SignedHs256(testing::PublicJwk(key, "k"), kHsHeader, admin), "bad signature"},
        });
  }
}

TEST_F(JwtVerifierTest, JwksRewritePicksUpNewKeysAndDropsRemovedOnes) {
  auto options = AllOptions();
  const fs::path path = options.jwks_file;
  const auto verifier = Make(options);
  ASSERT_NE(verifier, nullptr);
  const std::string old_token = Rs(kRsHeader, GoodClaims());
  const std::string new_token =
      testing::SignedRs256(K().next_rsa, R"({"alg":"RS256","kid":"rsa-2"})", GoodClaims());
  ASSERT_TRUE(verifier->Verify(old_token).has_value());
  ExpectRefused(*verifier, new_token, "unknown key id");

  const auto written = fs::last_write_time(path);
  WriteFile(path, testing::JwkSetJson({testing::PublicJwk(K().next_rsa, "rsa-2"), EcJwk()}));
  fs::last_write_time(path, written + std::chrono::seconds(5));
  // Within a second of the last check the file is not looked at.
  clock_.Set(At(kNow + 0.5));
  ExpectRefused(*verifier, new_token, "unknown key id");

  clock_.Set(At(kNow + 1.5));
  const auto result = verifier->Verify(new_token);
  EXPECT_TRUE(result.has_value()) << result.error().message;
  ExpectRefused(*verifier, old_token, "unknown key id");
}

TEST_F(JwtVerifierTest, JwksThatNoLongerParsesKeepsThePreviousKeys) {
  auto options = AllOptions();
  const fs::path path = options.jwks_file;
  const auto verifier = Make(options);
  ASSERT_NE(verifier, nullptr);
  const std::string token = Rs(kRsHeader, GoodClaims());
  const auto written = fs::last_write_time(path);

  WriteFile(path, R"({"keys":[{"kty":"RSA","n":"AQAB",)");
  fs::last_write_time(path, written + std::chrono::seconds(5));
  clock_.Set(At(kNow + 2));
  EXPECT_TRUE(verifier->Verify(token).has_value());

  fs::remove(path);
  clock_.Set(At(kNow + 4));
  EXPECT_TRUE(verifier->Verify(token).has_value());

  // Once the file is good again it is used.
  WriteFile(path, testing::JwkSetJson({EcJwk()}));
  fs::last_write_time(path, written + std::chrono::seconds(10));
  clock_.Set(At(kNow + 6));
  ExpectRefused(*verifier, token, "unknown key id");
}

// A clock that threads may read while another moves it.
class SteppingClock final : public base::Clock {
 public:
  explicit SteppingClock(base::TimePoint start) : ms_(start.time_since_epoch().count()) {}
  base::TimePoint Now() const override {
    return base::TimePoint(std::chrono::milliseconds(ms_.load()));
  }
  void Advance(std::chrono::milliseconds by) { ms_ += by.count(); }

 private:
  std::atomic<std::int64_t> ms_;
};

TEST_F(JwtVerifierTest, VerifiesFromManyThreadsWhileTheJwksIsRewritten) {
  SteppingClock clock(At(kNow));
  auto options = AllOptions();
  const fs::path path = options.jwks_file;
  auto created = JwtVerifier::Create(options, clock);
  ASSERT_TRUE(created.has_value()) << created.error().message;
  const JwtVerifier& verifier = **created;
  const std::vector<std::string> tokens = {Rs(kRsHeader, GoodClaims()), Hs(kHsHeader, GoodClaims()),
                                           Es(kEsHeader, GoodClaims())};
  constexpr int kRewrites = 40;
  std::vector<std::string> versions;
  for (int i = 1; i <= kRewrites; ++i) {
    // Every version keeps "rsa-1" and "ec-1" and adds one more key.
    versions.push_back(testing::JwkSetJson(
        {RsaJwk(), EcJwk(), testing::PublicJwk(K().next_rsa, "next-" + std::to_string(i))}));
  }
  const auto base_time = fs::last_write_time(path);

  constexpr int kThreads = 4;
  constexpr int kMinRounds = 100;
  std::atomic<bool> writing{true};
  std::atomic<int> attempts{0};
  std::atomic<int> accepted{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < kThreads; ++t) {
    readers.emplace_back([&, t] {
      for (int i = 0; i < kMinRounds || writing.load(); ++i) {
        ++attempts;
        if (verifier.Verify(tokens[(t + i) % tokens.size()]).has_value()) ++accepted;
      }
    });
  }
  for (int i = 1; i <= kRewrites; ++i) {
    // Renamed into place, so a check sees the old file or the new one, never half of one.
    const fs::path next = path.string() + ".next";
    WriteFile(next, versions[i - 1]);
    fs::last_write_time(next, base_time + std::chrono::seconds(i));
    fs::rename(next, path);
    clock.Advance(std::chrono::milliseconds(1100));
  }
  writing = false;
  for (auto& reader : readers) reader.join();
  EXPECT_EQ(accepted.load(), attempts.load());
  EXPECT_GE(attempts.load(), kThreads * kMinRounds);

  // The last version is the one in force.
  const auto latest = verifier.Verify(testing::SignedRs256(
      K().next_rsa, "{\"alg\":\"RS256\",\"kid\":\"next-" + std::to_string(kRewrites) + "\"}",
      GoodClaims()));
  EXPECT_TRUE(latest.has_value()) << latest.error().message;
}

TEST_F(JwtVerifierTest, MintHs256RoundTrips) {
  const std::string claims = GoodClaims(R"("role":["admin"])");
  const std::string token = MintHs256(kSecret, claims);
  const auto first = token.find('.');
  const auto last = token.rfind('.');
  EXPECT_EQ(DecodeBase64Url(token.substr(0, first)), R"({"alg":"HS256","typ":"JWT"})");
  EXPECT_EQ(DecodeBase64Url(token.substr(first + 1, last - first - 1)), claims);

  const auto verifier = Make(AllOptions());
  ASSERT_NE(verifier, nullptr);
  const auto result = verifier->Verify(token);
  ASSERT_TRUE(result.has_value()) << result.error().message;
  EXPECT_EQ(result->roles, std::vector<std::string>{"admin"});
  ExpectRefused(*verifier, MintHs256("another-secret-of-at-least-32-bytes!!", claims),
                "bad signature");
}

class JwtVerifierCreateTest : public JwtVerifierTest {
 protected:
  void ExpectBadSetting(JwtVerifier::Options options, std::string_view field,
                        std::string_view message_part = {}) {
    const auto result = JwtVerifier::Create(std::move(options), clock_);
    ASSERT_FALSE(result.has_value());
    EXPECT_EQ(result.error().code, base::ErrorCode::kInvalidArgument);
    EXPECT_EQ(result.error().field, field);
    EXPECT_NE(result.error().message.find(message_part), std::string::npos)
        << result.error().message;
  }
};

TEST_F(JwtVerifierCreateTest, RefusesBadAlgorithmsAndLeeway) {
  auto options = Options({"HS256", "none"});
  options.hmac_secret = kSecret;
  ExpectBadSetting(options, "JWT_ALGORITHMS", "none");
  options.algorithms = {"hs256"};
  ExpectBadSetting(options, "JWT_ALGORITHMS", "hs256");
  options.algorithms = {};
  ExpectBadSetting(options, "JWT_ALGORITHMS");
  options.algorithms = {"HS256"};
  options.leeway = std::chrono::seconds(301);
  ExpectBadSetting(options, "JWT_LEEWAY_SECONDS");
  options.leeway = std::chrono::seconds(-1);
  ExpectBadSetting(options, "JWT_LEEWAY_SECONDS");
  options.leeway = std::chrono::seconds(300);
  options.role_claim = "realm_access..roles";
  ExpectBadSetting(options, "JWT_ROLE_CLAIM");
}

TEST_F(JwtVerifierCreateTest, RefusesMissingOrWeakKeys) {
  ExpectBadSetting(Options({"HS256"}), "JWT_SECRET", "no key");
  auto options = Options({"HS256"});
  options.hmac_secret = std::string(31, 'k');
  ExpectBadSetting(options, "JWT_SECRET", "32 bytes");

  options = Options({"RS256", "ES256"});
  options.public_key_pem = "-----BEGIN PUBLIC KEY-----\nnot base64\n-----END PUBLIC KEY-----\n";
  ExpectBadSetting(options, "JWT_PUBLIC_KEY_FILE");
  options.public_key_pem = testing::PublicKeyPem(testing::GenerateRsaKey(1024));
  ExpectBadSetting(options, "JWT_PUBLIC_KEY_FILE", "1024 bits");
  options.public_key_pem = testing::PublicKeyPem(testing::GenerateEcKey("P-384"));
  ExpectBadSetting(options, "JWT_PUBLIC_KEY_FILE", "P-256");
  options.public_key_pem = testing::PrivateKeyPem(K().ec);
  ExpectBadSetting(options, "JWT_PUBLIC_KEY_FILE", "private key");
  options.public_key_pem = testing::PublicKeyPem(K().rsa) + testing::PublicKeyPem(K().ec);
  ExpectBadSetting(options, "JWT_PUBLIC_KEY_FILE", "exactly one");
}

TEST_F(JwtVerifierCreateTest, RefusesUnreadableOrEmptyJwks) {
  auto options = Options({"RS256"});
  options.jwks_file = (dir_ / "missing.json").string();
  ExpectBadSetting(options, "JWKS_FILE", "missing.json");
  options.jwks_file = (dir_ / "broken.json").string();
  WriteFile(options.jwks_file, R"({"keys":[)");
  ExpectBadSetting(options, "JWKS_FILE", "broken.json");
  WriteFile(options.jwks_file, R"({"keys":[{"kty":"oct","k":"c2VjcmV0"}]})");
  ExpectBadSetting(options, "JWKS_FILE", "no RSA or EC");
}

TEST_F(JwtVerifierCreateTest, RefusesKeysThatNoAllowedAlgorithmCanUse) {
  auto options = Options({"HS256"});
  options.public_key_pem = testing::PublicKeyPem(K().rsa);
  ExpectBadSetting(options, "JWT_ALGORITHMS", "add RS256");
  options.public_key_pem = testing::PublicKeyPem(K().ec);
  ExpectBadSetting(options, "JWT_ALGORITHMS", "add ES256");
  options = Options({"RS256"});
  options.hmac_secret = kSecret;
  ExpectBadSetting(options, "JWT_ALGORITHMS", "add HS256");
  options = Options({"ES256"});
  options.jwks_file = WriteJwks({RsaJwk()});
  ExpectBadSetting(options, "JWT_ALGORITHMS", "RS256");
  // A key whose own "use" rules it out counts as unusable.
  options = Options({"RS256"});
  options.jwks_file = WriteJwks({testing::PublicJwk(K().rsa, "enc-key", "", "enc")});
  ExpectBadSetting(options, "JWT_ALGORITHMS");
}

class JwtSecretFileTest : public TempDirTest {};

TEST_F(JwtSecretFileTest, CreatesAPrivateSecretOnceAndReadsItBack) {
  const fs::path path = dir_ / "jwt-dev-secret";
  const auto created = LoadOrCreateSecretFile(path);
  ASSERT_TRUE(created.has_value()) << created.error().message;
  EXPECT_EQ(created->size(), 64u);
  EXPECT_EQ(created->find_first_not_of("0123456789abcdef"), std::string::npos);
  struct stat info {};
  ASSERT_EQ(::stat(path.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 07777, 0600u);
  // Only the secret is left behind, no temporary file.
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_), fs::directory_iterator()), 1);

  const auto again = LoadOrCreateSecretFile(path);
  ASSERT_TRUE(again.has_value()) << again.error().message;
  EXPECT_EQ(*again, *created);
  const auto other = LoadOrCreateSecretFile(dir_ / "other-secret");
  ASSERT_TRUE(other.has_value()) << other.error().message;
  EXPECT_NE(*other, *created);
}

TEST_F(JwtSecretFileTest, ReadsAHandWrittenSecretWithoutItsNewline) {
  const fs::path path = dir_ / "secret";
  WriteFile(path, std::string(kSecret) + "\n");
  fs::permissions(path, fs::perms::owner_read | fs::perms::owner_write);
  const auto secret = LoadOrCreateSecretFile(path);
  ASSERT_TRUE(secret.has_value()) << secret.error().message;
  EXPECT_EQ(*secret, kSecret);
}

TEST_F(JwtSecretFileTest, RefusesFilesOthersCanReadOrThatAreShort) {
  const fs::path open = dir_ / "open-secret";
  WriteFile(open, std::string(64, 'a'));
  fs::permissions(open, fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read |
                            fs::perms::others_read);
  auto result = LoadOrCreateSecretFile(open);
  ASSERT_FALSE(result.has_value());
  EXPECT_NE(result.error().message.find(open.string()), std::string::npos);
  EXPECT_NE(result.error().message.find("644"), std::string::npos) << result.error().message;

  const fs::path short_secret = dir_ / "short-secret";
  WriteFile(short_secret, std::string(31, 'a'));
  fs::permissions(short_secret, fs::perms::owner_read | fs::perms::owner_write);
  result = LoadOrCreateSecretFile(short_secret);
  ASSERT_FALSE(result.has_value());
  EXPECT_NE(result.error().message.find(short_secret.string()), std::string::npos);

  const fs::path nowhere = dir_ / "no-such-dir" / "secret";
  result = LoadOrCreateSecretFile(nowhere);
  ASSERT_FALSE(result.has_value());
  EXPECT_NE(result.error().message.find(nowhere.string()), std::string::npos);
}

}  // namespace
}  // namespace adapters::jwt
