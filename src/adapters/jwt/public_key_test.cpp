#include "adapters/jwt/public_key.hpp"

#include <gtest/gtest.h>

#include <string>

#include "adapters/jwt/testing/test_keys.hpp"

namespace adapters::jwt {
namespace {

TEST(JwtPublicKey, ReadsRsaAndP256PemAndVerifiesTheirSignatures) {
  const auto rsa_key = testing::GenerateRsaKey();
  const auto ec_key = testing::GenerateEcKey();
  const auto rsa = PublicKey::FromPem(testing::PublicKeyPem(rsa_key));
  const auto ec = PublicKey::FromPem(testing::PublicKeyPem(ec_key));
  ASSERT_TRUE(rsa.has_value()) << rsa.error().message;
  ASSERT_TRUE(ec.has_value()) << ec.error().message;
  EXPECT_EQ(rsa->Kind(), KeyKind::kRsa);
  EXPECT_EQ(ec->Kind(), KeyKind::kEcP256);

  const std::string rsa_signature = testing::SignSha256(rsa_key, "message");
  const std::string ec_signature = testing::EcdsaDerToRaw(testing::SignSha256(ec_key, "message"));
  EXPECT_TRUE(rsa->Verify("message", rsa_signature));
  EXPECT_TRUE(ec->Verify("message", ec_signature));
  EXPECT_FALSE(rsa->Verify("massage", rsa_signature));
  EXPECT_FALSE(ec->Verify("massage", ec_signature));
  // Each kind only takes its own signature form and length.
  EXPECT_FALSE(rsa->Verify("message", ec_signature));
  EXPECT_FALSE(ec->Verify("message", rsa_signature));
  EXPECT_FALSE(ec->Verify("message", testing::SignSha256(ec_key, "message")));
  EXPECT_FALSE(rsa->Verify("message", rsa_signature.substr(1)));
  EXPECT_FALSE(rsa->Verify("message", ""));
  EXPECT_FALSE(ec->Verify("message", std::string(64, '\0')));
}

TEST(JwtPublicKey, BuildsKeysFromComponentsLikeThePemOnes) {
  const auto ec_key = testing::GenerateEcKey();
  const auto ec =
      PublicKey::FromEcP256Coordinates(testing::BignumParam(ec_key, OSSL_PKEY_PARAM_EC_PUB_X, 32),
                                       testing::BignumParam(ec_key, OSSL_PKEY_PARAM_EC_PUB_Y, 32));
  ASSERT_TRUE(ec.has_value()) << ec.error().message;
  EXPECT_TRUE(ec->Verify("m", testing::EcdsaDerToRaw(testing::SignSha256(ec_key, "m"))));

  const auto rsa_key = testing::GenerateRsaKey();
  const auto rsa =
      PublicKey::FromRsaComponents(testing::BignumParam(rsa_key, OSSL_PKEY_PARAM_RSA_N),
                                   testing::BignumParam(rsa_key, OSSL_PKEY_PARAM_RSA_E));
  ASSERT_TRUE(rsa.has_value()) << rsa.error().message;
  EXPECT_TRUE(rsa->Verify("m", testing::SignSha256(rsa_key, "m")));
}

TEST(JwtPublicKey, RefusesPointsOffTheCurveAndWeakOrOddRsa) {
  std::string x(32, '\0');
  std::string y(32, '\0');
  x[31] = 1;
  y[31] = 1;
  EXPECT_FALSE(PublicKey::FromEcP256Coordinates(x, y).has_value());
  EXPECT_FALSE(PublicKey::FromEcP256Coordinates(x.substr(1), y).has_value());
  EXPECT_FALSE(PublicKey::FromEcP256Coordinates(std::string(32, '\xff'), y).has_value());

  const auto small = testing::GenerateRsaKey(1024);
  EXPECT_FALSE(PublicKey::FromRsaComponents(testing::BignumParam(small, OSSL_PKEY_PARAM_RSA_N),
                                            testing::BignumParam(small, OSSL_PKEY_PARAM_RSA_E))
                   .has_value());
  const auto key = testing::GenerateRsaKey();
  const std::string n = testing::BignumParam(key, OSSL_PKEY_PARAM_RSA_N);
  EXPECT_FALSE(PublicKey::FromRsaComponents(n, std::string("\x01", 1)).has_value());  // e = 1
  EXPECT_FALSE(
      PublicKey::FromRsaComponents(n, std::string("\x01\x00\x00", 3)).has_value());  // even
  EXPECT_FALSE(PublicKey::FromRsaComponents(n, "").has_value());
  std::string even_n = n;
  even_n.back() = static_cast<char>(even_n.back() & 0xFE);
  EXPECT_FALSE(PublicKey::FromRsaComponents(even_n, std::string("\x01\x00\x01", 3)).has_value());
}

TEST(JwtPublicKey, RefusesPemThatIsNotOnePublicKey) {
  const auto ec_key = testing::GenerateEcKey();
  EXPECT_FALSE(PublicKey::FromPem("").has_value());
  EXPECT_FALSE(PublicKey::FromPem("not a key").has_value());
  EXPECT_FALSE(PublicKey::FromPem(testing::PrivateKeyPem(ec_key)).has_value());
  EXPECT_FALSE(
      PublicKey::FromPem(testing::PublicKeyPem(testing::GenerateEcKey("P-384"))).has_value());
  EXPECT_FALSE(PublicKey::FromPem(testing::PublicKeyPem(ec_key) + testing::PublicKeyPem(ec_key))
                   .has_value());
  std::string truncated = testing::PublicKeyPem(ec_key);
  truncated.erase(40, 10);
  EXPECT_FALSE(PublicKey::FromPem(truncated).has_value());
}

}  // namespace
}  // namespace adapters::jwt
