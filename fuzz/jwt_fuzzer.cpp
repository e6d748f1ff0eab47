// Feeds arbitrary bytes to the JWT adapter's parsers of untrusted input: as a token to a
// verifier with every algorithm and every kind of key source configured; as the claims of a
// correctly signed HS256 token, so that the claim checks behind the signature are reached; and
// as a JWK Set. Any crash, sanitizer report or exception is a bug.

#include <unistd.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <string_view>

#include "adapters/jwt/json_web_key.hpp"
#include "adapters/jwt/jwt_verifier.hpp"
#include "adapters/jwt/testing/test_keys.hpp"
#include "base/clock.hpp"

namespace {

namespace jwt = adapters::jwt;

// The same secret signs the HS256 seeds in fuzz/corpus/jwt, so mutations of them pass the
// signature check.
constexpr char kSecret[] = "fuzz-secret-0123456789abcdef-0123456789";
constexpr std::int64_t kNow = 1'704'067'200;  // 2024-01-01T00:00:00Z

struct Target {
  // Never moves, so the JWKS file is read once, at creation.
  base::FixedClock clock{base::TimePoint(std::chrono::seconds(kNow))};
  std::unique_ptr<jwt::JwtVerifier> verifier;

  Target() {
    const auto rsa = jwt::testing::GenerateRsaKey();
    const auto ec = jwt::testing::GenerateEcKey();
    const auto pem_key = jwt::testing::GenerateEcKey();
    const std::filesystem::path jwks_path =
        std::filesystem::temp_directory_path() /
        ("jwt_fuzzer_jwks_" + std::to_string(::getpid()) + ".json");
    {
      std::ofstream out(jwks_path, std::ios::binary | std::ios::trunc);
      out << jwt::testing::JwkSetJson({jwt::testing::PublicJwk(rsa, "rsa-1", "RS256", "sig"),
                                       jwt::testing::PublicJwk(ec, "ec-1")});
    }
    jwt::JwtVerifier::Options options;
    options.algorithms = {"HS256", "RS256", "ES256"};
    options.hmac_secret = kSecret;
    options.public_key_pem = jwt::testing::PublicKeyPem(pem_key);
    options.jwks_file = jwks_path.string();
    options.issuer = "https://auth.example";
    options.audience = "analytics";
    options.role_claim = "realm_access.roles";
    auto created = jwt::JwtVerifier::Create(std::move(options), clock);
    std::filesystem::remove(jwks_path);
    if (!created) std::abort();
    verifier = std::move(*created);
  }
};

const Target& GetTarget() {
  static const Target* const target = new Target();
  return *target;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const Target& target = GetTarget();
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  (void)target.verifier->Verify(input);
  (void)target.verifier->Verify(jwt::MintHs256(kSecret, input));
  (void)jwt::ParseJwkSet(input);
  return 0;
}
