#include "adapters/jwt/json_web_key.hpp"

#include <gtest/gtest.h>

#include <string>

#include "adapters/jwt/testing/test_keys.hpp"

namespace adapters::jwt {
namespace {

class JwkSetTest : public ::testing::Test {
 protected:
  static const testing::Key& Rsa() {
    static const auto* const key = new testing::Key(testing::GenerateRsaKey());
    return *key;
  }
  static const testing::Key& Ec() {
    static const auto* const key = new testing::Key(testing::GenerateEcKey());
    return *key;
  }

  static void ExpectRefused(const std::string& json, std::string_view message_part) {
    const auto set = ParseJwkSet(json);
    ASSERT_FALSE(set.has_value()) << json;
    EXPECT_EQ(set.error().code, base::ErrorCode::kInvalidArgument);
    EXPECT_NE(set.error().message.find(message_part), std::string::npos) << set.error().message;
  }
};

TEST_F(JwkSetTest, ParsesRsaAndP256KeysAndSkipsOtherKinds) {
  const std::string json = testing::JwkSetJson({
      testing::PublicJwk(Rsa(), "rsa-1", "RS256", "sig"),
      R"({"kty":"oct","kid":"hmac","k":"c2VjcmV0"})",
      R"({"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"})",
      R"({"kty":"EC","crv":"P-384","x":"AA","y":"AA"})",
      testing::PublicJwk(Ec(), "ec-1"),
  });
  const auto set = ParseJwkSet(json);
  ASSERT_TRUE(set.has_value()) << set.error().message;
  ASSERT_EQ(set->keys.size(), 2u);
  EXPECT_EQ(set->skipped, 3u);
  EXPECT_EQ(set->keys[0].kid, "rsa-1");
  EXPECT_EQ(set->keys[0].alg, "RS256");
  EXPECT_EQ(set->keys[0].use, "sig");
  EXPECT_EQ(set->keys[0].key.Kind(), KeyKind::kRsa);
  EXPECT_EQ(set->keys[1].kid, "ec-1");
  EXPECT_EQ(set->keys[1].key.Kind(), KeyKind::kEcP256);

  EXPECT_EQ(set->Find("rsa-1", KeyKind::kRsa), &set->keys[0]);
  EXPECT_EQ(set->Find("ec-1", KeyKind::kEcP256), &set->keys[1]);
  EXPECT_EQ(set->Find("rsa-1", KeyKind::kEcP256), nullptr);
  EXPECT_EQ(set->Find("hmac", KeyKind::kRsa), nullptr);
  EXPECT_EQ(set->Find("", KeyKind::kRsa), nullptr);

  const std::string message = "message";
  EXPECT_TRUE(
      set->keys[1].key.Verify(message, testing::EcdsaDerToRaw(testing::SignSha256(Ec(), message))));
}

TEST_F(JwkSetTest, KeyUsabilityFollowsKindAlgAndUse) {
  const auto set = ParseJwkSet(testing::JwkSetJson({
      testing::PublicJwk(Rsa(), "plain"),
      testing::PublicJwk(Rsa(), "pinned", "RS256"),
      testing::PublicJwk(Rsa(), "pss", "PS256"),
      testing::PublicJwk(Rsa(), "enc", "", "enc"),
      testing::PublicJwk(Ec(), "ec"),
  }));
  ASSERT_TRUE(set.has_value()) << set.error().message;
  ASSERT_EQ(set->keys.size(), 5u);
  EXPECT_TRUE(set->keys[0].IsUsableFor("RS256"));
  EXPECT_FALSE(set->keys[0].IsUsableFor("ES256"));
  EXPECT_FALSE(set->keys[0].IsUsableFor("HS256"));
  EXPECT_TRUE(set->keys[1].IsUsableFor("RS256"));
  EXPECT_FALSE(set->keys[2].IsUsableFor("RS256"));
  EXPECT_FALSE(set->keys[3].IsUsableFor("RS256"));
  EXPECT_TRUE(set->keys[4].IsUsableFor("ES256"));
  EXPECT_FALSE(set->keys[4].IsUsableFor("RS256"));
}

TEST_F(JwkSetTest, AcceptsAnEmptySet) {
  const auto set = ParseJwkSet(R"({"keys":[]})");
  ASSERT_TRUE(set.has_value()) << set.error().message;
  EXPECT_TRUE(set->keys.empty());
}

TEST_F(JwkSetTest, RefusesMalformedSets) {
  const std::string rsa = testing::PublicJwk(Rsa(), "rsa-1");
  std::string rsa_bad_n = rsa;
  rsa_bad_n.replace(rsa_bad_n.find(R"("n":")") + 5, 1, "+");
  ExpectRefused("", "JSON");
  ExpectRefused("[]", "\"keys\"");
  ExpectRefused(R"({"keys":{}})", "\"keys\"");
  ExpectRefused(R"({"keys":[1]})", "key 0: is not a JSON object");
  ExpectRefused(R"({"keys":[{"kid":"x"}]})", "key 0: \"kty\"");
  ExpectRefused(testing::JwkSetJson({rsa, R"({"kty":"RSA","e":"AQAB"})"}), "key 1:");
  ExpectRefused(testing::JwkSetJson({rsa_bad_n}), "base64url");
  ExpectRefused(testing::JwkSetJson({testing::PublicJwk(testing::GenerateRsaKey(1024), "small")}),
                "2048");
  ExpectRefused(R"({"keys":[{"kty":"EC","crv":"P-256","x":"AQ","y":"AQ"}]})", "32 bytes");
  // (1, 1) is not on P-256.
  ExpectRefused(R"({"keys":[{"kty":"EC","crv":"P-256",)"
                R"("x":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAE",)"
                R"("y":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAE"}]})",
                "P-256");
  ExpectRefused(R"({"keys":[{"kty":"EC","crv":1}]})", "\"crv\"");
  std::string rsa_numeric_kid = rsa;
  rsa_numeric_kid.replace(rsa_numeric_kid.find(R"("rsa-1")"), 7, "7");
  ExpectRefused(testing::JwkSetJson({rsa_numeric_kid}), "\"kid\"");
  ExpectRefused(R"({"keys":[],"keys":[])" + std::string("}"), "duplicate");
  ExpectRefused(testing::JwkSetJson({R"({"kty":"oct","kty":"RSA"})"}), "duplicate");
  ExpectRefused(R"({"keys":[)" + std::string(64, '[') + std::string(64, ']') + "]}", "JSON");
}

}  // namespace
}  // namespace adapters::jwt
