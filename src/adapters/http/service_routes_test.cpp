#include "adapters/http/service_routes.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <string>
#include <vector>

namespace adapters::http {
namespace {

namespace json = boost::json;
using app::EventOutcome;
using app::EventResult;

EventResult Stored(std::string id) { return {EventOutcome::kStored, std::move(id), {}}; }
EventResult Duplicate(std::string id) { return {EventOutcome::kDuplicate, std::move(id), {}}; }
EventResult Rejected(std::string code, std::string field, std::string message) {
  return {EventOutcome::kRejected, "", {std::move(code), std::move(field), std::move(message)}};
}

json::object BodyOf(const Response& r) {
  boost::system::error_code ec;
  auto v = json::parse(r.body, ec);
  EXPECT_FALSE(ec) << r.body;
  if (ec || !v.is_object()) return {};
  return v.as_object();
}

std::string HeaderOf(const Response& r, std::string_view name) {
  for (const auto& [k, v] : r.headers) {
    if (k == name) return v;
  }
  return {};
}

TEST(IngestResponse, CountsEachOutcome) {
  const auto r = IngestResponse(
      {Stored("a"), Duplicate("b"), Rejected("invalid_field", "data.userId", "bad"), Stored("d")},
      false);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "application/json");
  const auto body = BodyOf(r);
  EXPECT_EQ(body.at("received").to_number<int>(), 4);
  EXPECT_EQ(body.at("stored").to_number<int>(), 2);
  EXPECT_EQ(body.at("duplicates").to_number<int>(), 1);
  EXPECT_EQ(body.at("rejected").to_number<int>(), 1);
  EXPECT_FALSE(body.contains("error"));
}

TEST(IngestResponse, ListsErrorsWithIndexCodeFieldAndMessage) {
  const auto r = IngestResponse({Stored("a"), Rejected("missing_field", "data.userId", "is required"),
                                 Stored("c"), Rejected("invalid_json", "", "not JSON")},
                                false);
  const auto body = BodyOf(r);
  const auto& errors = body.at("errors").as_array();
  ASSERT_EQ(errors.size(), 2u);
  const auto& first = errors[0].as_object();
  EXPECT_EQ(first.at("index").to_number<int>(), 1);
  EXPECT_EQ(first.at("code").as_string(), "missing_field");
  EXPECT_EQ(first.at("field").as_string(), "data.userId");
  EXPECT_EQ(first.at("message").as_string(), "is required");
  const auto& second = errors[1].as_object();
  EXPECT_EQ(second.at("index").to_number<int>(), 3);
  EXPECT_EQ(second.at("code").as_string(), "invalid_json");
  EXPECT_FALSE(second.contains("field")) << "an empty field is left out";
  EXPECT_EQ(second.at("message").as_string(), "not JSON");
}

TEST(IngestResponse, NoErrorsIsAnEmptyList) {
  const auto body = BodyOf(IngestResponse({Stored("a")}, false));
  ASSERT_TRUE(body.contains("errors"));
  EXPECT_TRUE(body.at("errors").as_array().empty());
}

TEST(IngestResponse, EventsOnlyWithAllDetails) {
  const std::vector<EventResult> results = {Stored("a"), Duplicate("b"),
                                            Rejected("unknown_type", "type", "unknown")};
  EXPECT_FALSE(BodyOf(IngestResponse(results, false)).contains("events"));

  const auto body = BodyOf(IngestResponse(results, true));
  ASSERT_TRUE(body.contains("events"));
  const auto& events = body.at("events").as_array();
  ASSERT_EQ(events.size(), 3u);
  const char* statuses[] = {"stored", "duplicate", "rejected"};
  for (std::size_t i = 0; i < 3; ++i) {
    const auto& e = events[i].as_object();
    EXPECT_EQ(e.at("index").to_number<std::size_t>(), i);
    EXPECT_EQ(e.at("status").as_string(), statuses[i]);
  }
  EXPECT_EQ(events[0].as_object().at("id").as_string(), "a");
  EXPECT_EQ(events[1].as_object().at("id").as_string(), "b");
  EXPECT_FALSE(events[2].as_object().contains("id"));
}

TEST(IngestResponse, AllDuplicatesIsStillSuccess) {
  const auto r = IngestResponse({Duplicate("a"), Duplicate("b")}, false);
  EXPECT_EQ(r.status, 200);
  EXPECT_FALSE(BodyOf(r).contains("error"));
}

TEST(IngestResponse, OneStoredAmongRejectedIsSuccess) {
  const auto r = IngestResponse(
      {Rejected("invalid_json", "", "x"), Stored("b"), Rejected("invalid_json", "", "y")}, false);
  EXPECT_EQ(r.status, 200);
  EXPECT_FALSE(BodyOf(r).contains("error"));
}

TEST(IngestResponse, AllRejectedIsABadRequestWithAnErrorObject) {
  const auto r = IngestResponse({Rejected("invalid_json", "", "x"),
                                 Rejected("missing_field", "data.userId", "y")},
                                false);
  EXPECT_EQ(r.status, 400);
  const auto body = BodyOf(r);
  ASSERT_TRUE(body.contains("error"));
  const auto& error = body.at("error").as_object();
  EXPECT_EQ(error.at("code").as_string(), "invalid_argument");
  EXPECT_EQ(error.at("field").as_string(), "body");
  EXPECT_EQ(error.at("message").as_string(), "all events were rejected");
  EXPECT_EQ(body.at("errors").as_array().size(), 2u) << "the per-event reasons stay";
  EXPECT_EQ(body.at("rejected").to_number<int>(), 2);
  EXPECT_EQ(body.at("stored").to_number<int>(), 0);
}

TEST(IngestResponse, SingleRejectedEventSaysSo) {
  const auto r = IngestResponse({Rejected("timestamp_too_old", "data.timestamp", "old")}, true);
  EXPECT_EQ(r.status, 400);
  const auto body = BodyOf(r);
  EXPECT_EQ(body.at("error").as_object().at("message").as_string(), "the event was rejected");
  EXPECT_EQ(body.at("events").as_array().size(), 1u);
}

TEST(IngestResponse, MessagesAreEscapedIntoValidJson) {
  const auto r =
      IngestResponse({Rejected("invalid_field", "data.x", "bad \"quote\" \\ and\nnewline")}, false);
  const auto body = BodyOf(r);
  EXPECT_EQ(body.at("errors").as_array()[0].as_object().at("message").as_string(),
            "bad \"quote\" \\ and\nnewline");
}

struct StatusCase {
  base::ErrorCode code;
  int status;
  const char* name;
};

class ErrorMapping : public testing::TestWithParam<StatusCase> {};

TEST_P(ErrorMapping, HttpStatusOf) { EXPECT_EQ(HttpStatusOf(GetParam().code), GetParam().status); }

TEST_P(ErrorMapping, ErrorResponseHasTheStatusAndOneErrorShape) {
  const auto& p = GetParam();
  const auto r = ErrorResponse(base::Error{p.code, "something specific", "the_field"});
  EXPECT_EQ(r.status, p.status);
  EXPECT_EQ(r.content_type, "application/json");
  const auto body = BodyOf(r);
  ASSERT_TRUE(body.contains("error"));
  EXPECT_EQ(body.size(), 1u);
  const auto& error = body.at("error").as_object();
  EXPECT_EQ(error.at("code").as_string(), p.name);
  EXPECT_EQ(error.at("field").as_string(), "the_field");
  if (p.code == base::ErrorCode::kInternal) {
    EXPECT_EQ(error.at("message").as_string(), "internal error");
  } else {
    EXPECT_EQ(error.at("message").as_string(), "something specific");
  }
}

TEST_P(ErrorMapping, RetryAfterOnlyWhenARetryCanHelp) {
  const auto& p = GetParam();
  const auto r = ErrorResponse(base::Error{p.code, "m", ""});
  const bool retry = p.code == base::ErrorCode::kUnavailable ||
                     p.code == base::ErrorCode::kResourceExhausted;
  if (retry) {
    EXPECT_EQ(HeaderOf(r, "Retry-After"), "1");
  } else {
    EXPECT_TRUE(r.headers.empty());
  }
}

INSTANTIATE_TEST_SUITE_P(
    EveryCode, ErrorMapping,
    testing::Values(StatusCase{base::ErrorCode::kInvalidArgument, 400, "invalid_argument"},
                    StatusCase{base::ErrorCode::kUnauthenticated, 401, "unauthenticated"},
                    StatusCase{base::ErrorCode::kPermissionDenied, 403, "permission_denied"},
                    StatusCase{base::ErrorCode::kNotFound, 404, "not_found"},
                    StatusCase{base::ErrorCode::kPayloadTooLarge, 413, "payload_too_large"},
                    StatusCase{base::ErrorCode::kResourceExhausted, 429, "resource_exhausted"},
                    StatusCase{base::ErrorCode::kUnavailable, 503, "unavailable"},
                    StatusCase{base::ErrorCode::kFailedPrecondition, 400, "failed_precondition"},
                    StatusCase{base::ErrorCode::kInternal, 500, "internal"}),
    [](const testing::TestParamInfo<StatusCase>& info) {
      std::string name;
      bool upper = true;
      for (const char* c = info.param.name; *c != '\0'; ++c) {
        if (*c == '_') {
          upper = true;
          continue;
        }
        name.push_back(upper ? static_cast<char>(*c - 'a' + 'A') : *c);
        upper = false;
      }
      return name;
    });

TEST(ErrorResponse, InternalErrorsDoNotLeakTheirMessage) {
  const auto r = ErrorResponse(base::Error::Internal(
      "Code: 60. DB::Exception: Table analytics.events does not exist: SELECT * FROM /var/lib/x"));
  EXPECT_EQ(r.status, 500);
  EXPECT_EQ(r.body.find("DB::Exception"), std::string::npos) << r.body;
  EXPECT_EQ(r.body.find("SELECT"), std::string::npos) << r.body;
  EXPECT_EQ(r.body.find("/var/lib"), std::string::npos) << r.body;
}

TEST(ErrorResponse, FieldIsLeftOutWhenEmpty) {
  const auto body = BodyOf(ErrorResponse(base::Error::Unavailable("storage down")));
  const auto& error = body.at("error").as_object();
  EXPECT_FALSE(error.contains("field"));
  EXPECT_EQ(error.at("message").as_string(), "storage down");
}

TEST(ErrorResponse, MessageIsEscapedIntoValidJson) {
  const auto body = BodyOf(ErrorResponse(base::Error::InvalidArgument("a \"b\"\n\\c", "body")));
  EXPECT_EQ(body.at("error").as_object().at("message").as_string(), "a \"b\"\n\\c");
}

}  // namespace
}  // namespace adapters::http
