#include "adapters/jwt/base64_url.hpp"

#include <gtest/gtest.h>

#include <string>

namespace adapters::jwt {
namespace {

// RFC 4648 section 10 vectors, without padding; the last two use both URL-safe characters.
TEST(JwtBase64Url, EncodesRfc4648Vectors) {
  EXPECT_EQ(EncodeBase64Url(""), "");
  EXPECT_EQ(EncodeBase64Url("f"), "Zg");
  EXPECT_EQ(EncodeBase64Url("fo"), "Zm8");
  EXPECT_EQ(EncodeBase64Url("foo"), "Zm9v");
  EXPECT_EQ(EncodeBase64Url("foob"), "Zm9vYg");
  EXPECT_EQ(EncodeBase64Url("fooba"), "Zm9vYmE");
  EXPECT_EQ(EncodeBase64Url("foobar"), "Zm9vYmFy");
  EXPECT_EQ(EncodeBase64Url("\xfb\xff"), "-_8");
  EXPECT_EQ(EncodeBase64Url("\xfb\xef\xbe"), "----");
}

TEST(JwtBase64Url, RoundTripsEveryLengthAndByte) {
  std::string bytes;
  for (int i = 0; i < 300; ++i) {
    const auto decoded = DecodeBase64Url(EncodeBase64Url(bytes));
    ASSERT_TRUE(decoded.has_value()) << i;
    EXPECT_EQ(*decoded, bytes);
    bytes += static_cast<char>(i * 7);
  }
}

TEST(JwtBase64Url, RefusesEverythingButCanonicalUnpaddedBase64Url) {
  for (const char* text : {"Zg==", "Zm8=", "Zm9v+w", "Zm9v/w", "Zm9v Yg", "Zm9v\nYg", "Zm9v.Yg",
                           "Z", "Zm9vY", "Zh", "Zm9"}) {
    EXPECT_FALSE(DecodeBase64Url(text).has_value()) << text;
  }
  EXPECT_FALSE(DecodeBase64Url(std::string_view("Zg\0", 3)).has_value());
  // "Zh" and "Zm9" differ from "Zg" and "Zm8" only in bits no byte uses.
  EXPECT_EQ(DecodeBase64Url("Zg"), "f");
  EXPECT_EQ(DecodeBase64Url("Zm8"), "fo");
}

}  // namespace
}  // namespace adapters::jwt
