#include "adapters/http/http_server.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace adapters::http {
namespace {

TEST(NormalizePath, DecodesOnlyUnreservedCharacters) {
  EXPECT_EQ(NormalizePath("/api/analytics/users/count"), "/api/analytics/users/count");
  EXPECT_EQ(NormalizePath("/api/analytics/users/c%6Funt"), "/api/analytics/users/count");
  EXPECT_EQ(NormalizePath("/api/analytics/users%2fcount"), "/api/analytics/users%2Fcount")
      << "an encoded slash is not a separator";
  EXPECT_EQ(NormalizePath("/%ff%fe"), "/%FF%FE");
  EXPECT_EQ(NormalizePath("/a%20b"), "/a%20b");
  EXPECT_EQ(NormalizePath("/%7e"), "/~");
  EXPECT_FALSE(NormalizePath("/bad%2"));
  EXPECT_FALSE(NormalizePath("/bad%"));
  EXPECT_FALSE(NormalizePath("/bad%zz"));
}

TEST(ErrorResponse, MapsCodesAndStaysValidJsonForAnyInput) {
  const auto r =
      ErrorResponse(base::Error::InvalidArgument("tz: unknown zone '\xFF\xFE'", "tz\xC0"));
  EXPECT_EQ(r.status, 400);
  boost::system::error_code ec;
  const auto v = boost::json::parse(r.body, ec);
  ASSERT_FALSE(ec) << r.body;
  EXPECT_EQ(v.at("error").at("code").as_string(), "invalid_argument");
  EXPECT_NE(std::string(v.at("error").at("message").as_string()).find("\xEF\xBF\xBD"),
            std::string::npos);
}

TEST(ErrorResponse, InternalErrorsSayNothingOfTheirCause) {
  const auto r =
      ErrorResponse(base::Error::Internal("Code: 62. Syntax error: SELECT secret FROM x"));
  EXPECT_EQ(r.status, 500);
  EXPECT_EQ(r.body.find("SELECT"), std::string::npos);
  EXPECT_NE(r.body.find("internal error"), std::string::npos);
}

TEST(HttpStatusOf, EveryCode) {
  EXPECT_EQ(HttpStatusOf(base::ErrorCode::kUnauthenticated), 401);
  EXPECT_EQ(HttpStatusOf(base::ErrorCode::kPermissionDenied), 403);
  EXPECT_EQ(HttpStatusOf(base::ErrorCode::kResourceExhausted), 429);
  EXPECT_EQ(HttpStatusOf(base::ErrorCode::kPayloadTooLarge), 413);
  EXPECT_EQ(HttpStatusOf(base::ErrorCode::kUnavailable), 503);
}

}  // namespace
}  // namespace adapters::http
