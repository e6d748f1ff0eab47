#include "domain/event_decoder.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <boost/json.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "domain/timestamp.hpp"

namespace domain {
namespace {

namespace json = boost::json;
using namespace std::chrono;
using std::chrono_literals::operator""y;

const base::TimePoint kNow = base::TimePoint(sys_days{2025y / June / 1}) + hours(12);
constexpr std::string_view kTimestamp = "2025-06-01T11:00:00Z";
const base::TimePoint kEventTime = base::TimePoint(sys_days{2025y / June / 1}) + hours(11);
constexpr std::string_view kEmail = "alice@example.com";
constexpr std::string_view kTitle = "Plans for the surprise party";

DecodeLimits Limits() { return DecodeLimits{}; }

/// A valid `data` object of each type, with every field the type knows about.
json::object ValidData(EventType type) {
  json::object d;
  d["userId"] = "user-1";
  d["timestamp"] = kTimestamp;
  switch (type) {
    case EventType::kUserSignup:
      d["email"] = kEmail;
      d["planTier"] = "free";
      d["sessionId"] = "sess-1";
      break;
    case EventType::kUserSignin:
      d["ip"] = "203.0.113.77";
      d["sessionId"] = "sess-2";
      break;
    case EventType::kUserSignout:
      d["sessionId"] = "sess-3";
      break;
    case EventType::kUserPlanUpgrade:
      d["fromPlan"] = "free";
      d["toPlan"] = "pro";
      break;
    case EventType::kUserPlanDowngrade:
      d["fromPlan"] = "pro";
      d["toPlan"] = "free";
      break;
    case EventType::kChatMessageSent:
      d["conversationId"] = "conv-1";
      d["provider"] = "openai";
      d["model"] = "gpt-4o";
      d["tokens"] = 150;
      d["inputTokens"] = 100;
      d["outputTokens"] = 50;
      d["latencyMs"] = 900;
      d["costUsd"] = 0.00125;
      break;
    case EventType::kChatConversationCreated:
      d["conversationId"] = "conv-2";
      d["title"] = kTitle;
      break;
    case EventType::kChatConversationDeleted:
      d["conversationId"] = "conv-3";
      break;
    case EventType::kBillingPaymentSuccess:
      d["amount"] = 19.99;
      d["currency"] = "usd";
      d["planId"] = "pro";
      break;
    case EventType::kBillingPaymentFailed:
      d["amount"] = "5.00";
      d["currency"] = "EUR";
      d["reason"] = "card_declined";
      d["planId"] = "pro";
      break;
    case EventType::kBillingSubscriptionCreated:
      d["planId"] = "team";
      d["stripeSubscriptionId"] = "sub_123";
      break;
    case EventType::kBillingSubscriptionCancelled:
      d["planId"] = "team";
      break;
  }
  return d;
}

json::object Envelope(EventType type, json::object data) {
  json::object o;
  o["type"] = EventTypeName(type);
  o["data"] = std::move(data);
  return o;
}

json::object ValidEvent(EventType type) { return Envelope(type, ValidData(type)); }

DecodeResult Decode(const json::value& v, const DecodeLimits& limits = Limits()) {
  return DecodeEventBytes(json::serialize(v), limits, kNow);
}

DecodeResult DecodeWith(EventType type, const std::function<void(json::object&)>& edit_data) {
  auto data = ValidData(type);
  edit_data(data);
  return Decode(Envelope(type, std::move(data)));
}

std::vector<std::string> StringFields(const Event& e) {
  return {e.event_id,        e.user_id,          e.plan,     e.from_plan, e.to_plan,
          e.conversation_id, e.session_id,       e.provider, e.model,     e.currency,
          e.reason,          e.subscription_ref, e.ip_prefix};
}

void ExpectRejected(const DecodeResult& r, std::string_view code, std::string_view field) {
  ASSERT_FALSE(r) << "accepted; expected " << code << " at '" << field << "'";
  EXPECT_EQ(r.error().code, code) << r.error().message;
  EXPECT_EQ(r.error().field, field) << r.error().message;
  EXPECT_FALSE(r.error().message.empty());
}

/// `chat.message_sent` -> `ChatMessageSent`, for parameterized test names.
std::string TypeTestName(const testing::TestParamInfo<EventType>& info) {
  std::string name;
  bool upper = true;
  for (char c : EventTypeName(info.param)) {
    if (c == '.' || c == '_') {
      upper = true;
      continue;
    }
    name.push_back(upper ? static_cast<char>(c - 'a' + 'A') : c);
    upper = false;
  }
  return name;
}

// --- every type decodes -------------------------------------------------------------------

class DecodeEachType : public testing::TestWithParam<EventType> {};

TEST_P(DecodeEachType, ValidExampleDecodesWithTypeTimestampAndUser) {
  const auto r = Decode(ValidEvent(GetParam()));
  ASSERT_TRUE(r) << r.error().code << " " << r.error().message;
  EXPECT_EQ(r->event.type, GetParam());
  EXPECT_EQ(r->event.timestamp, kEventTime);
  EXPECT_EQ(r->event.user_id, "user-1");
  EXPECT_FALSE(r->id_was_sent);
  EXPECT_TRUE(r->event.event_id.empty());
}

TEST_P(DecodeEachType, MissingUserIdIsNamed) {
  ExpectRejected(DecodeWith(GetParam(), [](json::object& d) { d.erase("userId"); }),
                 reason::kMissingField, "data.userId");
}

TEST_P(DecodeEachType, NullUserIdCountsAsMissing) {
  ExpectRejected(DecodeWith(GetParam(), [](json::object& d) { d["userId"] = nullptr; }),
                 reason::kMissingField, "data.userId");
}

TEST_P(DecodeEachType, NonStringUserIdIsInvalid) {
  ExpectRejected(DecodeWith(GetParam(), [](json::object& d) { d["userId"] = 42; }),
                 reason::kInvalidField, "data.userId");
}

TEST_P(DecodeEachType, MissingTimestampIsNamed) {
  ExpectRejected(DecodeWith(GetParam(), [](json::object& d) { d.erase("timestamp"); }),
                 reason::kMissingField, "data.timestamp");
}

TEST_P(DecodeEachType, NonStringSessionIdIsInvalid) {
  ExpectRejected(DecodeWith(GetParam(), [](json::object& d) { d["sessionId"] = true; }),
                 reason::kInvalidField, "data.sessionId");
}

TEST_P(DecodeEachType, CanonicalFormIsStable) {
  const auto a = Decode(ValidEvent(GetParam()));
  const auto b = Decode(ValidEvent(GetParam()));
  ASSERT_TRUE(a);
  ASSERT_TRUE(b);
  EXPECT_EQ(CanonicalForm(a->event), CanonicalForm(b->event));
}

INSTANTIATE_TEST_SUITE_P(AllTypes, DecodeEachType, testing::ValuesIn(AllEventTypes()),
                         TypeTestName);

TEST(DecodeEvent, UserSignupFields) {
  const auto r = Decode(ValidEvent(EventType::kUserSignup));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->event.plan, "free");
  EXPECT_EQ(r->event.session_id, "sess-1");
}

TEST(DecodeEvent, UserSigninFields) {
  const auto r = Decode(ValidEvent(EventType::kUserSignin));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->event.ip_prefix, "203.0.113.0/24");
  EXPECT_EQ(r->event.session_id, "sess-2");
}

TEST(DecodeEvent, UserSignoutFields) {
  const auto r = Decode(ValidEvent(EventType::kUserSignout));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->event.session_id, "sess-3");
  EXPECT_TRUE(r->event.plan.empty());
}

TEST(DecodeEvent, PlanChangeFields) {
  const auto up = Decode(ValidEvent(EventType::kUserPlanUpgrade));
  ASSERT_TRUE(up);
  EXPECT_EQ(up->event.from_plan, "free");
  EXPECT_EQ(up->event.to_plan, "pro");
  const auto down = Decode(ValidEvent(EventType::kUserPlanDowngrade));
  ASSERT_TRUE(down);
  EXPECT_EQ(down->event.from_plan, "pro");
  EXPECT_EQ(down->event.to_plan, "free");
}

TEST(DecodeEvent, ChatMessageSentFields) {
  const auto r = Decode(ValidEvent(EventType::kChatMessageSent));
  ASSERT_TRUE(r);
  const Event& e = r->event;
  EXPECT_EQ(e.conversation_id, "conv-1");
  EXPECT_EQ(e.provider, "openai");
  EXPECT_EQ(e.model, "gpt-4o");
  EXPECT_EQ(e.tokens, 150u);
  EXPECT_EQ(e.input_tokens, 100u);
  EXPECT_EQ(e.output_tokens, 50u);
  EXPECT_EQ(e.latency_ms, 900u);
  ASSERT_TRUE(e.cost_usd);
  EXPECT_EQ(e.cost_usd->units, 1'250'000);
}

TEST(DecodeEvent, ChatMessageOptionalFieldsMayBeLeftOut) {
  const auto r = DecodeWith(EventType::kChatMessageSent, [](json::object& d) {
    d.erase("inputTokens");
    d.erase("outputTokens");
    d.erase("latencyMs");
    d.erase("costUsd");
  });
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->event.tokens, 150u);
  EXPECT_FALSE(r->event.input_tokens);
  EXPECT_FALSE(r->event.output_tokens);
  EXPECT_FALSE(r->event.latency_ms);
  EXPECT_FALSE(r->event.cost_usd);
}

TEST(DecodeEvent, ConversationFields) {
  const auto created = Decode(ValidEvent(EventType::kChatConversationCreated));
  ASSERT_TRUE(created);
  EXPECT_EQ(created->event.conversation_id, "conv-2");
  const auto deleted = Decode(ValidEvent(EventType::kChatConversationDeleted));
  ASSERT_TRUE(deleted);
  EXPECT_EQ(deleted->event.conversation_id, "conv-3");
}

TEST(DecodeEvent, PaymentSuccessFields) {
  const auto r = Decode(ValidEvent(EventType::kBillingPaymentSuccess));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->event.amount.units, 199'900);
  EXPECT_EQ(r->event.currency, "USD");
  EXPECT_EQ(r->event.plan, "pro");
  EXPECT_TRUE(r->event.reason.empty());
}

TEST(DecodeEvent, PaymentFailedFields) {
  const auto r = Decode(ValidEvent(EventType::kBillingPaymentFailed));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->event.amount.units, 50'000);
  EXPECT_EQ(r->event.currency, "EUR");
  EXPECT_EQ(r->event.reason, "card_declined");
  EXPECT_EQ(r->event.plan, "pro");
}

TEST(DecodeEvent, PaymentFailedWithoutCurrencyOrPlan) {
  const auto r = DecodeWith(EventType::kBillingPaymentFailed, [](json::object& d) {
    d.erase("currency");
    d.erase("planId");
  });
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_TRUE(r->event.currency.empty());
  EXPECT_TRUE(r->event.plan.empty());
}

TEST(DecodeEvent, SubscriptionFields) {
  const auto created = Decode(ValidEvent(EventType::kBillingSubscriptionCreated));
  ASSERT_TRUE(created);
  EXPECT_EQ(created->event.plan, "team");
  EXPECT_EQ(created->event.subscription_ref, "sub_123");
  const auto cancelled = Decode(ValidEvent(EventType::kBillingSubscriptionCancelled));
  ASSERT_TRUE(cancelled);
  EXPECT_EQ(cancelled->event.plan, "team");
  EXPECT_TRUE(cancelled->event.subscription_ref.empty());
}

TEST(DecodeEvent, SubscriptionIdIsOptionalAndKeptRawForThePseudonymizer) {
  for (const auto type :
       {EventType::kBillingSubscriptionCreated, EventType::kBillingSubscriptionCancelled}) {
    const auto with =
        DecodeWith(type, [](json::object& d) { d["stripeSubscriptionId"] = "sub_9"; });
    ASSERT_TRUE(with) << with.error().message;
    EXPECT_EQ(with->event.subscription_ref, "sub_9");
    const auto without = DecodeWith(type, [](json::object& d) { d.erase("stripeSubscriptionId"); });
    ASSERT_TRUE(without) << without.error().message;
    EXPECT_TRUE(without->event.subscription_ref.empty());
  }
}

TEST(DecodeEvent, FieldsOfOtherTypesAreNotPickedUp) {
  const auto r = DecodeWith(EventType::kUserSignout, [](json::object& d) {
    d["planTier"] = "pro";
    d["amount"] = 5;
    d["conversationId"] = "c";
    d["ip"] = "10.0.0.1";
  });
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->event.plan.empty());
  EXPECT_EQ(r->event.amount.units, 0);
  EXPECT_TRUE(r->event.conversation_id.empty());
  EXPECT_TRUE(r->event.ip_prefix.empty());
}

// The complete examples of docs/events.md, section 8, verbatim.
constexpr const char* kDocumentedExamples[] = {
    R"json({"id": "9b2f6c1e-3d4a-4f8b-a1c2-7e5d9f0a1b01", "type": "user.signup", "data": {"userId": "usr_48213", "timestamp": "2025-01-31T12:00:00Z", "planTier": "free", "email": "ada@example.com", "sessionId": "sess_7f3a"}})json",
    R"json({"id": "9b2f6c1e-3d4a-4f8b-a1c2-7e5d9f0a1b02", "type": "user.signin", "data": {"userId": "usr_48213", "timestamp": 1738324860000, "ip": "203.0.113.42", "sessionId": "sess_7f3a"}})json",
    R"json({"id": "9b2f6c1e-3d4a-4f8b-a1c2-7e5d9f0a1b03", "type": "user.signout", "data": {"userId": "usr_48213", "timestamp": "2025-01-31T14:30:00.250+01:00"}})json",
    R"json({"id": "9b2f6c1e-3d4a-4f8b-a1c2-7e5d9f0a1b04", "type": "user.plan_upgrade", "data": {"userId": "usr_48213", "timestamp": "2025-02-01T09:15:00Z", "fromPlan": "free", "toPlan": "pro"}})json",
    R"json({"id": "9b2f6c1e-3d4a-4f8b-a1c2-7e5d9f0a1b05", "type": "user.plan_downgrade", "data": {"userId": "usr_48213", "timestamp": "2025-03-01T09:15:00Z", "fromPlan": "pro", "toPlan": "free"}})json",
    R"json({"id": "9b2f6c1e-3d4a-4f8b-a1c2-7e5d9f0a1b06", "type": "chat.message_sent", "data": {"userId": "usr_48213", "timestamp": "2025-01-31T12:05:07.431Z", "conversationId": "conv_5521", "provider": "openai", "model": "gpt-4o-mini", "tokens": 1536, "inputTokens": 1024, "outputTokens": 512, "latencyMs": 2140, "costUsd": "0.000461", "sessionId": "sess_7f3a"}})json",
    R"json({"id": "9b2f6c1e-3d4a-4f8b-a1c2-7e5d9f0a1b13", "type": "chat.message_sent", "data": {"userId": "usr_48213", "timestamp": "2025-01-31T12:06:00Z", "conversationId": "conv_5521", "provider": "anthropic", "model": "claude-3-5-haiku", "inputTokens": 1024, "outputTokens": 512}})json",
    R"json({"id": "9b2f6c1e-3d4a-4f8b-a1c2-7e5d9f0a1b07", "type": "chat.conversation_created", "data": {"userId": "usr_48213", "timestamp": "2025-01-31T12:05:00Z", "conversationId": "conv_5521", "title": "Trip planning"}})json",
    R"json({"id": "9b2f6c1e-3d4a-4f8b-a1c2-7e5d9f0a1b08", "type": "chat.conversation_deleted", "data": {"userId": "usr_48213", "timestamp": "2025-02-10T08:00:00Z", "conversationId": "conv_5521"}})json",
    R"json({"id": "9b2f6c1e-3d4a-4f8b-a1c2-7e5d9f0a1b09", "type": "billing.payment_success", "data": {"userId": "usr_48213", "timestamp": "2025-02-01T09:14:58Z", "amount": "19.99", "currency": "usd", "planId": "pro"}})json",
    R"json({"id": "9b2f6c1e-3d4a-4f8b-a1c2-7e5d9f0a1b10", "type": "billing.payment_failed", "data": {"userId": "usr_48213", "timestamp": "2025-03-01T09:14:58Z", "amount": 19.99, "currency": "USD", "planId": "pro", "reason": "card_declined"}})json",
    R"json({"id": "9b2f6c1e-3d4a-4f8b-a1c2-7e5d9f0a1b11", "type": "billing.subscription_created", "data": {"userId": "usr_48213", "timestamp": "2025-02-01T09:15:00Z", "planId": "pro", "stripeSubscriptionId": "sub_1QxYz2AbCdEf3456"}})json",
    R"json({"id": "9b2f6c1e-3d4a-4f8b-a1c2-7e5d9f0a1b12", "type": "billing.subscription_cancelled", "data": {"userId": "usr_48213", "timestamp": "2025-03-01T09:15:00Z", "planId": "pro"}})json",
};

TEST(DecodeEvent, EveryDocumentedExampleDecodes) {
  const auto now = base::TimePoint(sys_days{2025y / March / 2});
  std::vector<Event> events;
  for (const char* text : kDocumentedExamples) {
    const auto r = DecodeEventBytes(text, Limits(), now);
    ASSERT_TRUE(r) << text << "\n" << r.error().code << ": " << r.error().message;
    EXPECT_TRUE(r->id_was_sent);
    events.push_back(r->event);
  }
  ASSERT_EQ(events.size(), 13u);
  for (const auto type : AllEventTypes()) {
    EXPECT_TRUE(std::any_of(events.begin(), events.end(), [&](const Event& e) {
      return e.type == type;
    })) << EventTypeName(type);
  }
  const auto by_id = [&](std::string_view suffix) -> const Event& {
    for (const auto& e : events) {
      if (e.event_id.ends_with(suffix)) return e;
    }
    ADD_FAILURE() << "no example " << suffix;
    return events.front();
  };
  EXPECT_EQ(by_id("1b02").ip_prefix, "203.0.113.0/24");
  EXPECT_EQ(by_id("1b02").timestamp, base::TimePoint(milliseconds(1738324860000)));
  EXPECT_EQ(by_id("1b03").timestamp, base::TimePoint(sys_days{2025y / January / 31}) + hours(13) +
                                         minutes(30) + milliseconds(250));
  EXPECT_EQ(by_id("1b06").cost_usd, CostUsd{461'000});
  EXPECT_EQ(by_id("1b06").tokens, 1536u);
  EXPECT_EQ(by_id("1b13").tokens, 1536u);
  EXPECT_EQ(by_id("1b09").amount, Amount{199'900});
  EXPECT_EQ(by_id("1b09").currency, "USD");
  EXPECT_EQ(by_id("1b10").amount, Amount{199'900});
  EXPECT_EQ(by_id("1b10").reason, "card_declined");
  EXPECT_EQ(by_id("1b11").subscription_ref, "sub_1QxYz2AbCdEf3456");
  for (const auto& e : events) {
    for (const auto& field : StringFields(e)) {
      EXPECT_EQ(field.find("ada@example.com"), std::string::npos);
      EXPECT_EQ(field.find("Trip planning"), std::string::npos);
    }
  }
}

// --- required fields per type -------------------------------------------------------------

struct RequiredCase {
  EventType type;
  std::string field;
};

class DecodeRequiredField : public testing::TestWithParam<RequiredCase> {};

TEST_P(DecodeRequiredField, MissingIsNamed) {
  const auto& p = GetParam();
  ExpectRejected(DecodeWith(p.type, [&](json::object& d) { d.erase(p.field); }),
                 reason::kMissingField, "data." + p.field);
}

TEST_P(DecodeRequiredField, NullIsMissing) {
  const auto& p = GetParam();
  ExpectRejected(DecodeWith(p.type, [&](json::object& d) { d[p.field] = nullptr; }),
                 reason::kMissingField, "data." + p.field);
}

TEST_P(DecodeRequiredField, WrongJsonTypeIsInvalid) {
  const auto& p = GetParam();
  ExpectRejected(DecodeWith(p.type,
                            [&](json::object& d) {
                              d[p.field] = json::array{1, 2};
                            }),
                 reason::kInvalidField, "data." + p.field);
}

INSTANTIATE_TEST_SUITE_P(
    PerType, DecodeRequiredField,
    testing::Values(RequiredCase{EventType::kUserSignup, "planTier"},
                    RequiredCase{EventType::kUserPlanUpgrade, "fromPlan"},
                    RequiredCase{EventType::kUserPlanUpgrade, "toPlan"},
                    RequiredCase{EventType::kUserPlanDowngrade, "fromPlan"},
                    RequiredCase{EventType::kUserPlanDowngrade, "toPlan"},
                    RequiredCase{EventType::kChatMessageSent, "conversationId"},
                    RequiredCase{EventType::kChatMessageSent, "provider"},
                    RequiredCase{EventType::kChatMessageSent, "model"},
                    RequiredCase{EventType::kChatConversationCreated, "conversationId"},
                    RequiredCase{EventType::kChatConversationDeleted, "conversationId"},
                    RequiredCase{EventType::kBillingPaymentSuccess, "amount"},
                    RequiredCase{EventType::kBillingPaymentSuccess, "currency"},
                    RequiredCase{EventType::kBillingPaymentSuccess, "planId"},
                    RequiredCase{EventType::kBillingPaymentFailed, "amount"},
                    RequiredCase{EventType::kBillingPaymentFailed, "reason"},
                    RequiredCase{EventType::kBillingSubscriptionCreated, "planId"},
                    RequiredCase{EventType::kBillingSubscriptionCancelled, "planId"}),
    [](const testing::TestParamInfo<RequiredCase>& info) {
      return TypeTestName({info.param.type, info.index}) + "_" + info.param.field;
    });

TEST(DecodeEvent, RequiredStringMustNotBeEmpty) {
  ExpectRejected(DecodeWith(EventType::kUserSignup, [](json::object& d) { d["planTier"] = ""; }),
                 reason::kInvalidField, "data.planTier");
  ExpectRejected(DecodeWith(EventType::kUserSignout, [](json::object& d) { d["userId"] = ""; }),
                 reason::kInvalidField, "data.userId");
}

TEST(DecodeEvent, OptionalStringMayBeEmpty) {
  const auto r = DecodeWith(EventType::kUserSignout, [](json::object& d) { d["sessionId"] = ""; });
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_TRUE(r->event.session_id.empty());
}

TEST(DecodeEvent, TooLongStringsAreInvalid) {
  ExpectRejected(DecodeWith(EventType::kUserSignout,
                            [](json::object& d) { d["userId"] = std::string(257, 'u'); }),
                 reason::kInvalidField, "data.userId");
  ExpectRejected(DecodeWith(EventType::kUserSignup,
                            [](json::object& d) { d["planTier"] = std::string(129, 'p'); }),
                 reason::kInvalidField, "data.planTier");
  ExpectRejected(DecodeWith(EventType::kBillingPaymentFailed,
                            [](json::object& d) { d["reason"] = std::string(1025, 'r'); }),
                 reason::kInvalidField, "data.reason");
  ExpectRejected(DecodeWith(EventType::kUserSignup,
                            [](json::object& d) { d["email"] = std::string(1025, 'e'); }),
                 reason::kInvalidField, "data.email");
}

TEST(DecodeEvent, LongestAllowedStringsAreAccepted) {
  const auto r = DecodeWith(EventType::kUserSignup, [](json::object& d) {
    d["userId"] = std::string(256, 'u');
    d["planTier"] = std::string(128, 'p');
  });
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->event.user_id.size(), 256u);
  EXPECT_EQ(r->event.plan.size(), 128u);
}

TEST(DecodeEvent, OptionalFieldOfWrongTypeIsInvalid) {
  ExpectRejected(DecodeWith(EventType::kUserSignup, [](json::object& d) { d["email"] = 1; }),
                 reason::kInvalidField, "data.email");
  ExpectRejected(
      DecodeWith(EventType::kChatConversationCreated, [](json::object& d) { d["title"] = 1; }),
      reason::kInvalidField, "data.title");
  ExpectRejected(DecodeWith(EventType::kUserSignin, [](json::object& d) { d["ip"] = 1; }),
                 reason::kInvalidField, "data.ip");
  ExpectRejected(DecodeWith(EventType::kBillingSubscriptionCreated,
                            [](json::object& d) { d["stripeSubscriptionId"] = 7; }),
                 reason::kInvalidField, "data.stripeSubscriptionId");
}

// --- tokens, money ------------------------------------------------------------------------

TEST(DecodeEvent, TokensMayBeOmittedWhenBothHalvesAreSent) {
  const auto r = DecodeWith(EventType::kChatMessageSent, [](json::object& d) {
    d.erase("tokens");
    d["inputTokens"] = 700;
    d["outputTokens"] = 33;
  });
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->event.tokens, 733u);
  EXPECT_EQ(r->event.input_tokens, 700u);
  EXPECT_EQ(r->event.output_tokens, 33u);
}

TEST(DecodeEvent, TokensRequiredWhenOnlyInputTokensIsSent) {
  ExpectRejected(DecodeWith(EventType::kChatMessageSent,
                            [](json::object& d) {
                              d.erase("tokens");
                              d.erase("outputTokens");
                            }),
                 reason::kMissingField, "data.tokens");
}

TEST(DecodeEvent, TokensRequiredWhenOnlyOutputTokensIsSent) {
  ExpectRejected(DecodeWith(EventType::kChatMessageSent,
                            [](json::object& d) {
                              d.erase("tokens");
                              d.erase("inputTokens");
                            }),
                 reason::kMissingField, "data.tokens");
}

TEST(DecodeEvent, TokensRequiredWhenNoHalfIsSent) {
  ExpectRejected(DecodeWith(EventType::kChatMessageSent,
                            [](json::object& d) {
                              d.erase("tokens");
                              d.erase("inputTokens");
                              d.erase("outputTokens");
                            }),
                 reason::kMissingField, "data.tokens");
}

TEST(DecodeEvent, SentTokensAreKeptAlongsideTheSplit) {
  const auto r = DecodeWith(EventType::kChatMessageSent, [](json::object& d) { d["tokens"] = 0; });
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->event.tokens, 0u);
}

TEST(DecodeEvent, TokensAsIntegralDoubleAreAccepted) {
  const auto r =
      DecodeWith(EventType::kChatMessageSent, [](json::object& d) { d["tokens"] = 150.0; });
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->event.tokens, 150u);
}

TEST(DecodeEvent, BadTokenValuesAreInvalid) {
  for (const char* field : {"tokens", "inputTokens", "outputTokens", "latencyMs"}) {
    for (const json::value& bad : {json::value(-1), json::value(1.5), json::value("10"),
                                   json::value(true), json::value(1e300)}) {
      ExpectRejected(
          DecodeWith(EventType::kChatMessageSent, [&](json::object& d) { d[field] = bad; }),
          reason::kInvalidField, std::string("data.") + field);
    }
  }
}

TEST(DecodeEvent, TokensAboveTheLimitAreInvalid) {
  ExpectRejected(
      DecodeWith(EventType::kChatMessageSent, [](json::object& d) { d["tokens"] = 100'000'001; }),
      reason::kInvalidField, "data.tokens");
  const auto at_limit =
      DecodeWith(EventType::kChatMessageSent, [](json::object& d) { d["tokens"] = 100'000'000; });
  ASSERT_TRUE(at_limit);
  EXPECT_EQ(at_limit->event.tokens, 100'000'000u);
  ExpectRejected(
      DecodeWith(EventType::kChatMessageSent, [](json::object& d) { d["latencyMs"] = 86'400'001; }),
      reason::kInvalidField, "data.latencyMs");
}

TEST(DecodeEvent, HugeUnsignedTokensAreInvalid) {
  ExpectRejected(
      DecodeWith(EventType::kChatMessageSent,
                 [](json::object& d) { d["tokens"] = std::uint64_t{18'000'000'000'000'000'000u}; }),
      reason::kInvalidField, "data.tokens");
}

TEST(DecodeEvent, AmountAsNumberOrString) {
  const struct {
    json::value amount;
    std::int64_t units;
  } cases[] = {
      {json::value(19.99), 199'900},
      {json::value("19.99"), 199'900},
      {json::value(20), 200'000},
      {json::value("20"), 200'000},
      {json::value("0.5"), 5'000},
      {json::value(0.1), 1'000},
      {json::value("19.9999"), 199'999},
      {json::value("19.99000000"), 199'900},
      {json::value(0), 0},
      {json::value("1234567.8901"), 12'345'678'901},
  };
  for (const auto& c : cases) {
    const auto r = DecodeWith(EventType::kBillingPaymentSuccess,
                              [&](json::object& d) { d["amount"] = c.amount; });
    ASSERT_TRUE(r) << json::serialize(c.amount) << ": " << r.error().message;
    EXPECT_EQ(r->event.amount.units, c.units) << json::serialize(c.amount);
  }
}

TEST(DecodeEvent, DocumentedDecimalStrings) {
  const struct {
    const char* text;
    std::int64_t units;
  } cases[] = {
      {"19.99", 199'900}, {"5", 50'000}, {"5.", 50'000}, {".5", 5'000}, {"19.9900000", 199'900}};
  for (const auto& c : cases) {
    const auto r = DecodeWith(EventType::kBillingPaymentSuccess,
                              [&](json::object& d) { d["amount"] = c.text; });
    ASSERT_TRUE(r) << c.text << ": " << r.error().message;
    EXPECT_EQ(r->event.amount.units, c.units) << c.text;
  }
}

TEST(DecodeEvent, IntegerFieldsAcceptIntegralDoubleNotations) {
  for (const char* tokens : {"1024", "1024.0", "1.024e3", "1.024E3"}) {
    const std::string text =
        std::string(R"({"type":"chat.message_sent","data":{"userId":"u",)") +
        R"("timestamp":"2025-06-01T11:00:00Z","conversationId":"c","provider":"p","model":"m",)" +
        R"("tokens":)" + tokens + "}}";
    const auto r = DecodeEventBytes(text, Limits(), kNow);
    ASSERT_TRUE(r) << tokens << ": " << r.error().message;
    EXPECT_EQ(r->event.tokens, 1024u) << tokens;
  }
}

/// `chat.message_sent` with `data` members written verbatim, `member` (`"name":value`, JSON as
/// written) last, so that number tokens reach the decoder exactly as a producer wrote them.
std::string MessageSentWith(std::string_view field, std::string_view raw_value) {
  std::string members =
      R"("userId":"u","timestamp":"2025-06-01T11:00:00Z","conversationId":"c","provider":"p",)"
      R"("model":"m")";
  if (field != "tokens") members += R"(,"tokens":5)";
  return std::string(R"({"type":"chat.message_sent","data":{)") + members + ",\"" +
         std::string(field) + "\":" + std::string(raw_value) + "}}";
}

std::string PaymentWithAmount(std::string_view raw_amount) {
  return std::string(R"({"type":"billing.payment_success","data":{"userId":"u",)") +
         R"("timestamp":"2025-06-01T11:00:00Z","currency":"USD","planId":"p","amount":)" +
         std::string(raw_amount) + "}}";
}

std::string SignoutAt(std::string_view raw_timestamp) {
  return std::string(R"({"type":"user.signout","data":{"userId":"u","timestamp":)") +
         std::string(raw_timestamp) + "}}";
}

// docs/events.md, "Strings and numbers": an integer field takes a number whose decimal value
// is whole, however it is written.
TEST(DecodeEvent, IntegerFieldsAcceptEveryWholeNotation) {
  const struct {
    const char* text;
    std::uint64_t value;
  } cases[] = {{"1024", 1024},     {"1024.0", 1024},    {"1.024e3", 1024},    {"1.024E+3", 1024},
               {"10240e-1", 1024}, {"102400E-2", 1024}, {"1024.000e0", 1024}, {"0.001024e6", 1024},
               {"0", 0},           {"-0", 0},           {"0.0", 0},           {"-0.0", 0},
               {"0e-400", 0},      {"0.000e999", 0},    {"1024.0 ", 1024},    {"1e7", 10'000'000}};
  for (const char* field : {"tokens", "inputTokens", "outputTokens", "latencyMs"}) {
    for (const auto& c : cases) {
      const auto r = DecodeEventBytes(MessageSentWith(field, c.text), Limits(), kNow);
      ASSERT_TRUE(r) << field << "=" << c.text << ": " << r.error().message;
      const Event& e = r->event;
      const std::uint64_t got = std::string_view(field) == "tokens"         ? e.tokens
                                : std::string_view(field) == "inputTokens"  ? *e.input_tokens
                                : std::string_view(field) == "outputTokens" ? *e.output_tokens
                                                                            : *e.latency_ms;
      EXPECT_EQ(got, c.value) << field << "=" << c.text;
    }
  }
}

// A double rounds these to a whole number (or to 0); their written value is not whole.
TEST(DecodeEvent, IntegerFieldsRefuseNumbersThatAreNotWholeAsWritten) {
  for (const char* field : {"tokens", "inputTokens", "outputTokens", "latencyMs"}) {
    for (const char* text :
         {"1e-400", "0.5e-300", "2e-324", "5e-324", "1.0000000000000000001",
          "1023.99999999999999999", "1.5", "1.5e0", "1e-1", "10241e-1", "0.0000001e3",
          "1.0000000000000000001e2", "-1e-400", "1e-99999999999999999999"}) {
      const auto r = DecodeEventBytes(MessageSentWith(field, text), Limits(), kNow);
      ExpectRejected(r, reason::kInvalidField, std::string("data.") + field);
      if (!r) {
        EXPECT_NE(r.error().message.find("integer"), std::string::npos) << text;
      }
    }
  }
}

// The name is matched after unescaping, as the decoder reads the value.
TEST(DecodeEvent, IntegerFieldWithAnEscapedNameIsCheckedAsWritten) {
  ExpectRejected(DecodeEventBytes(MessageSentWith("outputT\\u006fkens", "1e-400"), Limits(), kNow),
                 reason::kInvalidField, "data.outputTokens");
  const auto whole =
      DecodeEventBytes(MessageSentWith("outputT\\u006fkens", "1.5e1"), Limits(), kNow);
  ASSERT_TRUE(whole) << whole.error().message;
  EXPECT_EQ(whole->event.output_tokens, 15u);
}

TEST(DecodeEvent, IntegerCheckInAnArrayOrNdjsonBodyLooksAtItsOwnEvent) {
  const std::string good = MessageSentWith("tokens", "1.0e1");
  const std::string bad = MessageSentWith("tokens", "1e-400");
  for (const auto& [body, format] :
       {std::pair{"[" + good + " , " + bad + "," + good + "]", BodyFormat::kJson},
        std::pair{good + "\n" + bad + "\r\n" + good, BodyFormat::kNdjson}}) {
    const auto r = DecodeBody(body, format, Limits(), kNow);
    ASSERT_TRUE(r) << r.error().message;
    ASSERT_EQ(r->size(), 3u);
    ASSERT_TRUE((*r)[0]);
    EXPECT_EQ((*r)[0]->event.tokens, 10u);
    ExpectRejected((*r)[1], reason::kInvalidField, "data.tokens");
    ASSERT_TRUE((*r)[2]);
    EXPECT_EQ((*r)[2]->event.tokens, 10u);
  }
}

TEST(DecodeEventTimestamp, EpochMillisecondsAreWholeAsWritten) {
  const std::int64_t ms = kEventTime.time_since_epoch().count();  // 1748775600000
  const std::string digits = std::to_string(ms);
  for (const std::string& text : std::vector<std::string>{digits + ".0", digits + ".000e0",
                                                          "1.7487756e12", "17487756000000e-1"}) {
    const auto r = DecodeEventBytes(SignoutAt(text), Limits(), kNow);
    ASSERT_TRUE(r) << text << ": " << r.error().message;
    EXPECT_EQ(r->event.timestamp, kEventTime) << text;
  }
  for (const std::string& text : std::vector<std::string>{
           digits + ".0000000001", "1.74877560000000000001e12", "1e-400", "17487756000001e-1"}) {
    ExpectRejected(DecodeEventBytes(SignoutAt(text), Limits(), kNow), reason::kInvalidTimestamp,
                   "data.timestamp");
  }
}

// docs/events.md: JSON numbers are rounded to 4 (amount) or 9 (costUsd) decimals, but a
// non-zero number below the smallest double, which would be stored as 0, is refused.
TEST(DecodeEvent, DecimalNumbersThatUnderflowAreRefused) {
  for (const char* text : {"1e-400", "2e-324", "0.5e-330", "-1e-400", "1.0e-99999"}) {
    ExpectRejected(DecodeEventBytes(PaymentWithAmount(text), Limits(), kNow), reason::kInvalidField,
                   "data.amount");
    ExpectRejected(DecodeEventBytes(MessageSentWith("costUsd", text), Limits(), kNow),
                   reason::kInvalidField, "data.costUsd");
  }
}

TEST(DecodeEvent, DecimalZeroesAndRoundedNumbersAreAccepted) {
  const struct {
    const char* text;
    std::int64_t amount_units;
    std::int64_t cost_units;
  } cases[] = {{"0", 0, 0},      {"0.0", 0, 0},       {"-0", 0, 0},           {"-0.0", 0, 0},
               {"0e-400", 0, 0}, {"0.000e5", 0, 0},   {"0.00001", 0, 10'000}, {"5e-324", 0, 0},
               {"1.5e-9", 0, 2}, {"1e-4", 1, 100'000}};
  for (const auto& c : cases) {
    const auto payment = DecodeEventBytes(PaymentWithAmount(c.text), Limits(), kNow);
    ASSERT_TRUE(payment) << c.text << ": " << payment.error().message;
    EXPECT_EQ(payment->event.amount.units, c.amount_units) << c.text;
    const auto message = DecodeEventBytes(MessageSentWith("costUsd", c.text), Limits(), kNow);
    ASSERT_TRUE(message) << c.text << ": " << message.error().message;
    ASSERT_TRUE(message->event.cost_usd) << c.text;
    EXPECT_EQ(message->event.cost_usd->units, c.cost_units) << c.text;
  }
}

TEST(DecodeEvent, PaymentFailedCurrencyAndPlanMayBeNullOrEmpty) {
  const auto r = DecodeWith(EventType::kBillingPaymentFailed, [](json::object& d) {
    d["currency"] = nullptr;
    d["planId"] = "";
  });
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_TRUE(r->event.currency.empty());
  EXPECT_TRUE(r->event.plan.empty());
  const auto empty_currency =
      DecodeWith(EventType::kBillingPaymentFailed, [](json::object& d) { d["currency"] = ""; });
  ASSERT_TRUE(empty_currency) << empty_currency.error().message;
  EXPECT_TRUE(empty_currency->event.currency.empty());
}

TEST(DecodeEvent, BadAmountsAreInvalid) {
  for (const json::value& bad :
       {json::value("19.99999"), json::value("-1"), json::value(-5), json::value(-0.01),
        json::value("abc"), json::value(""), json::value("."), json::value("1,5"),
        json::value("1.2.3"), json::value(" 1"), json::value("1e3"), json::value(true),
        json::value(json::object{}), json::value(2e12), json::value("2000000000000")}) {
    ExpectRejected(
        DecodeWith(EventType::kBillingPaymentSuccess, [&](json::object& d) { d["amount"] = bad; }),
        reason::kInvalidField, "data.amount");
  }
}

TEST(DecodeEvent, AmountUpToTheMaximum) {
  const auto at_max = DecodeWith(EventType::kBillingPaymentSuccess,
                                 [](json::object& d) { d["amount"] = "1000000000000"; });
  ASSERT_TRUE(at_max) << at_max.error().message;
  EXPECT_EQ(at_max->event.amount.units, 10'000'000'000'000'000);
  ExpectRejected(DecodeWith(EventType::kBillingPaymentSuccess,
                            [](json::object& d) { d["amount"] = "1000000000000.01"; }),
                 reason::kInvalidField, "data.amount");
  ExpectRejected(DecodeWith(EventType::kBillingPaymentSuccess,
                            [](json::object& d) { d["amount"] = "99999999999999999999999"; }),
                 reason::kInvalidField, "data.amount");
}

// 10^16 + 1 units is not a double; the limit must still hold at the last decimal.
TEST(DecodeEvent, AmountOneUnitAboveTheMaximumIsInvalid) {
  ExpectRejected(DecodeWith(EventType::kBillingPaymentSuccess,
                            [](json::object& d) { d["amount"] = "1000000000000.0001"; }),
                 reason::kInvalidField, "data.amount");
}

TEST(DecodeEvent, TooManyDecimalsNamesTheCount) {
  const auto r = DecodeWith(EventType::kBillingPaymentSuccess,
                            [](json::object& d) { d["amount"] = "1.00001"; });
  ExpectRejected(r, reason::kInvalidField, "data.amount");
  EXPECT_NE(r.error().message.find("4"), std::string::npos) << r.error().message;
}

TEST(DecodeEvent, CostUsdHasNineDecimals) {
  const struct {
    json::value cost;
    std::int64_t units;
  } cases[] = {
      {json::value(0.00125), 1'250'000},
      {json::value("0.000000001"), 1},
      {json::value("1.5"), 1'500'000'000},
      {json::value(2), 2'000'000'000},
      {json::value(0), 0},
  };
  for (const auto& c : cases) {
    const auto r =
        DecodeWith(EventType::kChatMessageSent, [&](json::object& d) { d["costUsd"] = c.cost; });
    ASSERT_TRUE(r) << json::serialize(c.cost) << ": " << r.error().message;
    ASSERT_TRUE(r->event.cost_usd);
    EXPECT_EQ(*r->event.cost_usd, CostUsd{c.units}) << json::serialize(c.cost);
  }
  ExpectRejected(DecodeWith(EventType::kChatMessageSent,
                            [](json::object& d) { d["costUsd"] = "0.0000000001"; }),
                 reason::kInvalidField, "data.costUsd");
  ExpectRejected(
      DecodeWith(EventType::kChatMessageSent, [](json::object& d) { d["costUsd"] = -0.5; }),
      reason::kInvalidField, "data.costUsd");
}

TEST(DecodeEvent, CurrencyIsUpperCased) {
  for (const char* sent : {"usd", "Usd", "USD"}) {
    const auto r = DecodeWith(EventType::kBillingPaymentSuccess,
                              [&](json::object& d) { d["currency"] = sent; });
    ASSERT_TRUE(r) << sent;
    EXPECT_EQ(r->event.currency, "USD") << sent;
  }
}

TEST(DecodeEvent, BadCurrenciesAreInvalid) {
  for (const json::value& bad :
       {json::value("US"), json::value("USDX"), json::value("U$D"), json::value("U1D"),
        json::value("123456789"), json::value(""), json::value(840)}) {
    ExpectRejected(DecodeWith(EventType::kBillingPaymentSuccess,
                              [&](json::object& d) { d["currency"] = bad; }),
                   reason::kInvalidField, "data.currency");
  }
  ExpectRejected(
      DecodeWith(EventType::kBillingPaymentFailed, [](json::object& d) { d["currency"] = "eu"; }),
      reason::kInvalidField, "data.currency");
}

// --- privacy ------------------------------------------------------------------------------

TEST(DecodeEvent, EmailIsNeverKept) {
  const auto r = Decode(ValidEvent(EventType::kUserSignup));
  ASSERT_TRUE(r);
  for (const auto& s : StringFields(r->event)) {
    EXPECT_EQ(s.find(kEmail), std::string::npos) << s;
    EXPECT_EQ(s.find("alice"), std::string::npos) << s;
  }
  EXPECT_EQ(CanonicalForm(r->event).find("alice"), std::string::npos);
}

TEST(DecodeEvent, ConversationTitleIsNeverKept) {
  const auto r = Decode(ValidEvent(EventType::kChatConversationCreated));
  ASSERT_TRUE(r);
  for (const auto& s : StringFields(r->event)) {
    EXPECT_EQ(s.find("surprise"), std::string::npos) << s;
  }
  EXPECT_EQ(CanonicalForm(r->event).find("surprise"), std::string::npos);
}

TEST(DecodeEvent, SigninIpIsTruncated) {
  const struct {
    const char* ip;
    const char* prefix;
  } cases[] = {
      {"203.0.113.77", "203.0.113.0/24"},
      {"2001:db8:abcd:1234:5678::1", "2001:db8:abcd::/48"},
      {"not-an-ip", ""},
      {"", ""},
  };
  for (const auto& c : cases) {
    const auto r = DecodeWith(EventType::kUserSignin, [&](json::object& d) { d["ip"] = c.ip; });
    ASSERT_TRUE(r) << c.ip << ": " << r.error().message;
    EXPECT_EQ(r->event.ip_prefix, c.prefix) << c.ip;
  }
  const auto without = DecodeWith(EventType::kUserSignin, [](json::object& d) { d.erase("ip"); });
  ASSERT_TRUE(without);
  EXPECT_TRUE(without->event.ip_prefix.empty());
}

// --- envelope -----------------------------------------------------------------------------

TEST(DecodeEvent, IdIsOptional) {
  auto with_id = ValidEvent(EventType::kUserSignout);
  with_id["id"] = "evt-123";
  const auto sent = Decode(with_id);
  ASSERT_TRUE(sent);
  EXPECT_TRUE(sent->id_was_sent);
  EXPECT_EQ(sent->event.event_id, "evt-123");

  auto null_id = ValidEvent(EventType::kUserSignout);
  null_id["id"] = nullptr;
  const auto absent = Decode(null_id);
  ASSERT_TRUE(absent);
  EXPECT_FALSE(absent->id_was_sent);
  EXPECT_TRUE(absent->event.event_id.empty());
}

TEST(DecodeEvent, BadIdsAreInvalid) {
  for (const json::value& bad :
       {json::value(""), json::value(42), json::value(std::string(257, 'i')),
        json::value(json::array{"a"})}) {
    auto e = ValidEvent(EventType::kUserSignout);
    e["id"] = bad;
    ExpectRejected(Decode(e), reason::kInvalidField, "id");
  }
  auto longest = ValidEvent(EventType::kUserSignout);
  longest["id"] = std::string(256, 'i');
  EXPECT_TRUE(Decode(longest));
}

TEST(DecodeEvent, InvalidJson) {
  for (const char* bad : {"{", "{\"type\":", "nonsense", "{\"a\":1}}", ""}) {
    ExpectRejected(DecodeEventBytes(bad, Limits(), kNow), reason::kInvalidJson, "");
  }
}

TEST(DecodeEvent, NotAnObject) {
  for (const char* bad : {"[]", "[{\"type\":\"user.signout\"}]", "42", "\"text\"", "null"}) {
    ExpectRejected(DecodeEventBytes(bad, Limits(), kNow), reason::kNotAnObject, "");
  }
}

TEST(DecodeEvent, UnknownType) {
  auto e = ValidEvent(EventType::kUserSignout);
  e["type"] = "user.deleted";
  const auto r = Decode(e);
  ExpectRejected(r, reason::kUnknownType, "type");
  EXPECT_NE(r.error().message.find("user.deleted"), std::string::npos);

  e["type"] = "USER.SIGNOUT";
  ExpectRejected(Decode(e), reason::kUnknownType, "type");
}

TEST(DecodeEvent, UnknownTypeMessageIsBounded) {
  auto e = ValidEvent(EventType::kUserSignout);
  e["type"] = std::string(5000, 'x');
  const auto r = Decode(e);
  ExpectRejected(r, reason::kUnknownType, "type");
  EXPECT_LT(r.error().message.size(), 200u);
}

TEST(DecodeEvent, MissingTypeAndData) {
  auto no_type = ValidEvent(EventType::kUserSignout);
  no_type.erase("type");
  ExpectRejected(Decode(no_type), reason::kMissingField, "type");

  auto no_data = ValidEvent(EventType::kUserSignout);
  no_data.erase("data");
  ExpectRejected(Decode(no_data), reason::kMissingField, "data");
}

// docs/events.md, section 1: "`type: null` and `data: null` are `invalid_field`".
TEST(DecodeEvent, NullTypeAndDataAreInvalidAsDocumented) {
  auto null_type = ValidEvent(EventType::kUserSignout);
  null_type["type"] = nullptr;
  ExpectRejected(Decode(null_type), reason::kInvalidField, "type");

  auto null_data = ValidEvent(EventType::kUserSignout);
  null_data["data"] = nullptr;
  ExpectRejected(Decode(null_data), reason::kInvalidField, "data");
}

// docs/events.md, section 5: validation stops at the first problem, in this order: size, object,
// id, type, data, data.timestamp, data.userId, the type's fields, data.sessionId.
TEST(DecodeEvent, FirstProblemInTheDocumentedOrderIsReported) {
  const DecodeLimits limits = Limits();
  const auto decode = [&](std::string_view text) { return DecodeEventBytes(text, limits, kNow); };
  ExpectRejected(decode(R"({"id":"","type":"nope"})"), reason::kInvalidField, "id");
  ExpectRejected(decode(R"({"type":"nope"})"), reason::kUnknownType, "type");
  ExpectRejected(decode(R"({"type":"user.signup","data":5})"), reason::kInvalidField, "data");
  ExpectRejected(decode(R"({"type":"user.signup","data":{"userId":5}})"), reason::kMissingField,
                 "data.timestamp");
  ExpectRejected(
      decode(R"({"type":"user.signup","data":{"userId":5,"timestamp":"2025-06-01T11:00:00Z"}})"),
      reason::kInvalidField, "data.userId");
  ExpectRejected(decode(R"({"type":"user.signup","data":{"userId":"u","sessionId":5,)"
                        R"("timestamp":"2025-06-01T11:00:00Z"}})"),
                 reason::kMissingField, "data.planTier");
  ExpectRejected(decode(R"({"type":"user.signup","data":{"userId":"u","planTier":"free",)"
                        R"("sessionId":5,"timestamp":"2025-06-01T11:00:00Z"}})"),
                 reason::kInvalidField, "data.sessionId");
}

TEST(DecodeEvent, UnknownFieldsAreIgnored) {
  const auto r =
      DecodeEventBytes(R"({"type":"user.signout","extra":{"deep":[1,2,3]},"data":{"userId":"u",)"
                       R"("timestamp":"2025-06-01T11:00:00Z","color":"blue","n":-7.5}})",
                       Limits(), kNow);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->event.user_id, "u");
}

// Numbers beyond 64 bits are valid JSON (RFC 8259). In an unknown field they must not cost the
// event; in a known field they are that field's problem.
// A number beyond 64-bit range anywhere in an event makes that event unreadable as a whole
// (documented in docs/events.md); it is rejected with a clear reason, and only that event.
TEST(DecodeEvent, HugeNumberAnywhereRejectsOnlyThatEventAsInvalidJson) {
  ExpectRejected(
      DecodeEventBytes(
          R"({"type":"user.signout","data":{"userId":"u","timestamp":"2025-06-01T11:00:00Z",)"
          R"("extra":100000000000000000000}})",
          Limits(), kNow),
      reason::kInvalidJson, "");
  ExpectRejected(DecodeEventBytes(R"({"type":"billing.payment_success","data":{"userId":"u",)"
                                  R"("timestamp":"2025-06-01T11:00:00Z","amount":)"
                                  R"(100000000000000000000,"currency":"USD","planId":"p"}})",
                                  Limits(), kNow),
                 reason::kInvalidJson, "");
}

TEST(DecodeEvent, WrongEnvelopeTypes) {
  auto type_number = ValidEvent(EventType::kUserSignout);
  type_number["type"] = 3;
  ExpectRejected(Decode(type_number), reason::kInvalidField, "type");

  auto data_array = ValidEvent(EventType::kUserSignout);
  data_array["data"] = json::array{};
  ExpectRejected(Decode(data_array), reason::kInvalidField, "data");

  auto data_string = ValidEvent(EventType::kUserSignout);
  data_string["data"] = "{}";
  ExpectRejected(Decode(data_string), reason::kInvalidField, "data");
}

// --- duplicate member names ---------------------------------------------------------------

TEST(DecodeEvent, RepeatedTopLevelNameIsRejected) {
  const struct {
    const char* text;
    const char* field;
  } cases[] = {
      {R"({"type":"user.signout","type":"user.signup","data":{"userId":"u",)"
       R"("timestamp":"2025-06-01T11:00:00Z"}})",
       "type"},
      {R"({"id":"a","type":"user.signout","id":"a","data":{"userId":"u",)"
       R"("timestamp":"2025-06-01T11:00:00Z"}})",
       "id"},
      {R"({"type":"user.signout","data":{"userId":"u","timestamp":"2025-06-01T11:00:00Z"},)"
       R"("data":{"userId":"v","timestamp":"2025-06-01T11:00:00Z"}})",
       "data"},
      {R"({"x":1,"type":"user.signout","x":1,"data":{"userId":"u",)"
       R"("timestamp":"2025-06-01T11:00:00Z"}})",
       "x"},
      {R"({"id":null,"type":"user.signout","data":{"userId":"u",)"
       R"("timestamp":"2025-06-01T11:00:00Z"},"id":"b"})",
       "id"},
  };
  for (const auto& c : cases) {
    const auto r = DecodeEventBytes(c.text, Limits(), kNow);
    ExpectRejected(r, reason::kDuplicateKey, c.field);
    if (!r) {
      EXPECT_NE(r.error().message.find(c.field), std::string::npos) << r.error().message;
    }
  }
}

TEST(DecodeEvent, RepeatedDataNameIsRejectedWithItsPath) {
  const struct {
    const char* text;
    const char* field;
  } cases[] = {
      {R"({"type":"user.signout","data":{"userId":"u","userId":"v",)"
       R"("timestamp":"2025-06-01T11:00:00Z"}})",
       "data.userId"},
      {R"({"type":"user.signout","data":{"userId":"u","timestamp":"2025-06-01T11:00:00Z",)"
       R"("userId":"u"}})",
       "data.userId"},
      {R"({"type":"user.signout","data":{"userId":"u","timestamp":"2025-06-01T11:00:00Z",)"
       R"("timestamp":1748775600000}})",
       "data.timestamp"},
      {R"({"type":"user.signout","data":{"userId":"u","color":"red",)"
       R"("timestamp":"2025-06-01T11:00:00Z","color":"red"}})",
       "data.color"},
      {R"({"type":"user.signout","data":{"userId":"u","sessionId":null,)"
       R"("timestamp":"2025-06-01T11:00:00Z","sessionId":"s"}})",
       "data.sessionId"},
      // Names are compared as JSON strings, after unescaping.
      {R"({"type":"user.signout","data":{"userId":"u","user\u0049d":"v",)"
       R"("timestamp":"2025-06-01T11:00:00Z"}})",
       "data.userId"},
  };
  for (const auto& c : cases) {
    ExpectRejected(DecodeEventBytes(c.text, Limits(), kNow), reason::kDuplicateKey, c.field);
  }
}

// docs/events.md, section 5: duplicates at the top level come right after "object", those in
// `data` right after `data`.
TEST(DecodeEvent, RepeatedNamesComeFirstInTheDocumentedOrder) {
  ExpectRejected(DecodeEventBytes(R"({"id":"","type":"nope","type":"nope"})", Limits(), kNow),
                 reason::kDuplicateKey, "type");
  ExpectRejected(DecodeEventBytes(R"({"type":"user.signup","data":{"a":1,"a":2}})", Limits(), kNow),
                 reason::kDuplicateKey, "data.a");
  ExpectRejected(DecodeEventBytes(R"({"type":"nope","data":{"a":1,"a":2}})", Limits(), kNow),
                 reason::kUnknownType, "type");
}

// Only the objects the decoder reads are checked: an unknown field may hold anything JSON.
TEST(DecodeEvent, RepeatedNamesDeeperThanDataAreIgnored) {
  const auto r = DecodeEventBytes(
      R"({"type":"user.signout","extra":{"a":1,"a":2},"data":{"userId":"u",)"
      R"("timestamp":"2025-06-01T11:00:00Z","more":[{"b":1,"b":1}],"nested":{"c":1,"c":2}}})",
      Limits(), kNow);
  ASSERT_TRUE(r) << r.error().message;
}

TEST(DecodeEvent, SimilarNamesAreNotDuplicates) {
  const auto r = DecodeEventBytes(
      R"({"type":"user.signout","Type":"x","type ":"y","data":{"userId":"u",)"
      R"("userid":"v","UserId":"w","timestamp":"2025-06-01T11:00:00Z","":1,"\u0000":2}})",
      Limits(), kNow);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->event.user_id, "u");
}

std::string SignoutWithExtraMembers(const std::vector<std::string>& names) {
  std::string data = R"("userId":"u","timestamp":"2025-06-01T11:00:00Z")";
  for (const auto& name : names) data += ",\"" + name + "\":0";
  return R"({"type":"user.signout","data":{)" + data + "}}";
}

// Objects with many names take another path than the handful of a real event.
TEST(DecodeEvent, RepeatedNameAmongManyIsFoundAndTheFirstRepeatIsNamed) {
  std::vector<std::string> names;
  for (int i = 0; i < 200; ++i) names.push_back(fmt::format("k{}", i));
  ASSERT_TRUE(DecodeEventBytes(SignoutWithExtraMembers(names), Limits(), kNow));

  auto repeated = names;
  repeated.insert(repeated.begin() + 150, "k120");  // the first repeat in document order
  repeated.push_back("k3");
  repeated.push_back("userId");
  ExpectRejected(DecodeEventBytes(SignoutWithExtraMembers(repeated), Limits(), kNow),
                 reason::kDuplicateKey, "data.k120");

  // At the boundary between the two paths.
  for (std::size_t count : {13u, 14u, 15u, 16u, 17u}) {
    std::vector<std::string> some(names.begin(), names.begin() + static_cast<long>(count));
    ASSERT_TRUE(DecodeEventBytes(SignoutWithExtraMembers(some), Limits(), kNow)) << count;
    some.push_back("k0");
    ExpectRejected(DecodeEventBytes(SignoutWithExtraMembers(some), Limits(), kNow),
                   reason::kDuplicateKey, "data.k0");
  }
}

TEST(DecodeEvent, LongRepeatedNameIsCutInTheRejection) {
  const std::string name = std::string(63, 'n') + "\xC3\xA9" + std::string(100, 'm');
  const auto r = DecodeEventBytes(SignoutWithExtraMembers({name, name}), Limits(), kNow);
  ExpectRejected(r, reason::kDuplicateKey, "data." + std::string(63, 'n'));
  EXPECT_LT(r.error().message.size(), 200u);
}

TEST(DecodeBody, RepeatedNameRejectsOnlyItsEvent) {
  const std::string bad = R"({"type":"user.signout","data":{"userId":"u","userId":"v","timestamp":)"
                          R"("2025-06-01T11:00:00Z"}})";
  const std::string good = R"({"type":"user.signout","data":{"userId":"u","timestamp":)"
                           R"("2025-06-01T11:00:00Z"}})";
  for (const auto& [body, format] :
       {std::pair{"[" + good + "," + bad + "," + good + "]", BodyFormat::kAuto},
        std::pair{good + "\n" + bad + "\n" + good + "\n", BodyFormat::kNdjson},
        std::pair{good + "\n" + bad + "\n" + good + "\n", BodyFormat::kAuto}}) {
    const auto r = DecodeBody(body, format, Limits(), kNow);
    ASSERT_TRUE(r) << r.error().message;
    ASSERT_EQ(r->size(), 3u);
    EXPECT_TRUE((*r)[0]);
    ExpectRejected((*r)[1], reason::kDuplicateKey, "data.userId");
    EXPECT_TRUE((*r)[2]);
  }
  const auto single = DecodeBody(bad, BodyFormat::kJson, Limits(), kNow);
  ASSERT_TRUE(single) << single.error().message;
  ASSERT_EQ(single->size(), 1u);
  ExpectRejected((*single)[0], reason::kDuplicateKey, "data.userId");
}

// --- timestamps ---------------------------------------------------------------------------

json::value Iso(base::TimePoint t) { return json::value(FormatIsoUtc(t)); }

DecodeResult DecodeWithTimestamp(const json::value& ts, const DecodeLimits& limits = Limits()) {
  auto data = ValidData(EventType::kUserSignout);
  data["timestamp"] = ts;
  return Decode(Envelope(EventType::kUserSignout, std::move(data)), limits);
}

TEST(DecodeEventTimestamp, IsoWithOffset) {
  const auto r = DecodeWithTimestamp("2025-06-01T13:00:00.250+02:00");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->event.timestamp, kEventTime + milliseconds(250));
}

TEST(DecodeEventTimestamp, DocumentedIsoVariants) {
  for (const char* text : {"2025-06-01T11:00:00Z", "2025-06-01 07:00:00-0400",
                           "2025-06-01t11:00:00z", "2025-06-01T13:00:00,000+02:00"}) {
    const auto r = DecodeWithTimestamp(text);
    ASSERT_TRUE(r) << text << ": " << r.error().message;
    EXPECT_EQ(r->event.timestamp, kEventTime) << text;
  }
  ExpectRejected(DecodeWithTimestamp("1748775600000"), reason::kInvalidTimestamp, "data.timestamp");
}

TEST(DecodeEventTimestamp, EpochMilliseconds) {
  const std::int64_t ms = kEventTime.time_since_epoch().count();
  const auto r = DecodeWithTimestamp(ms);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->event.timestamp, kEventTime);

  const auto as_double = DecodeWithTimestamp(static_cast<double>(ms));
  ASSERT_TRUE(as_double) << as_double.error().message;
  EXPECT_EQ(as_double->event.timestamp, kEventTime);

  const auto as_unsigned = DecodeWithTimestamp(static_cast<std::uint64_t>(ms));
  ASSERT_TRUE(as_unsigned);
  EXPECT_EQ(as_unsigned->event.timestamp, kEventTime);
}

TEST(DecodeEventTimestamp, InvalidTimestamps) {
  for (const json::value& bad :
       {json::value("2025-06-01T11:00:00"), json::value("2025-06-01"), json::value("yesterday"),
        json::value("2025-02-30T00:00:00Z"), json::value(""), json::value(true),
        json::value(1.7487756e12 + 0.5), json::value(json::array{})}) {
    ExpectRejected(DecodeWithTimestamp(bad), reason::kInvalidTimestamp, "data.timestamp");
  }
}

TEST(DecodeEventTimestamp, NullIsMissing) {
  ExpectRejected(DecodeWithTimestamp(nullptr), reason::kMissingField, "data.timestamp");
}

TEST(DecodeEventTimestamp, FutureBeyondTheSkewIsRejected) {
  const auto limits = Limits();
  const auto too_far = kNow + limits.max_future_skew + milliseconds(1);
  ExpectRejected(DecodeWithTimestamp(Iso(too_far)), reason::kTimestampInFuture, "data.timestamp");
  ExpectRejected(DecodeWithTimestamp(too_far.time_since_epoch().count()),
                 reason::kTimestampInFuture, "data.timestamp");
  const auto at_edge = DecodeWithTimestamp(Iso(kNow + limits.max_future_skew));
  ASSERT_TRUE(at_edge) << at_edge.error().message;
}

TEST(DecodeEventTimestamp, SkewIsConfigurable) {
  auto limits = Limits();
  limits.max_future_skew = minutes(5);
  ExpectRejected(DecodeWithTimestamp(Iso(kNow + minutes(6)), limits), reason::kTimestampInFuture,
                 "data.timestamp");
  EXPECT_TRUE(DecodeWithTimestamp(Iso(kNow + minutes(4)), limits));
}

TEST(DecodeEventTimestamp, EpochSecondsAreTooOld) {
  const std::int64_t seconds_since_epoch = kEventTime.time_since_epoch().count() / 1000;
  const auto r = DecodeWithTimestamp(seconds_since_epoch);
  ExpectRejected(r, reason::kTimestampTooOld, "data.timestamp");
  EXPECT_NE(r.error().message.find("seconds"), std::string::npos) << r.error().message;
}

TEST(DecodeEventTimestamp, BeforeTheMinimumIsTooOld) {
  const auto limits = Limits();
  ExpectRejected(DecodeWithTimestamp("1999-12-31T23:59:59.999Z"), reason::kTimestampTooOld,
                 "data.timestamp");
  ExpectRejected(DecodeWithTimestamp(-1), reason::kTimestampTooOld, "data.timestamp");
  const auto at_minimum = DecodeWithTimestamp(Iso(limits.min_timestamp));
  ASSERT_TRUE(at_minimum);
  EXPECT_EQ(at_minimum->event.timestamp, limits.min_timestamp);
}

TEST(DecodeEventTimestamp, FarEpochValuesAreInFutureOrTooOld) {
  ExpectRejected(DecodeWithTimestamp(std::int64_t{1'000'000'000'000'000}),
                 reason::kTimestampInFuture, "data.timestamp");
  ExpectRejected(DecodeWithTimestamp(std::int64_t{-1'000'000'000'000'000}),
                 reason::kTimestampTooOld, "data.timestamp");
}

TEST(DecodeEventTimestamp, ExtremeIntegersAreOutOfRange) {
  for (const json::value& extreme :
       {json::value(std::numeric_limits<std::int64_t>::max()),
        json::value(std::numeric_limits<std::int64_t>::min()),
        json::value(std::numeric_limits<std::uint64_t>::max()),
        json::value(std::int64_t{1'000'000'000'000'001}),
        json::value(std::int64_t{-1'000'000'000'000'001}), json::value(1e300)}) {
    ExpectRejected(DecodeWithTimestamp(extreme), reason::kInvalidTimestamp, "data.timestamp");
  }
}

// --- size ---------------------------------------------------------------------------------

TEST(DecodeEvent, EventTooLargeAsBytes) {
  auto limits = Limits();
  limits.max_event_bytes = 512;
  auto big = ValidEvent(EventType::kChatConversationCreated);
  big["data"].as_object()["title"] = std::string(600, 't');
  ExpectRejected(Decode(big, limits), reason::kEventTooLarge, "");
  // Size is checked before parsing: even bytes that are not JSON are "too large".
  ExpectRejected(DecodeEventBytes(std::string(600, '{'), limits, kNow), reason::kEventTooLarge, "");
}

// --- bodies -------------------------------------------------------------------------------

std::string Line(EventType type, std::string_view id = {}) {
  auto e = ValidEvent(type);
  if (!id.empty()) e["id"] = id;
  return json::serialize(e);
}

TEST(DecodeBody, SingleObject) {
  const auto r = DecodeBody(Line(EventType::kUserSignin), BodyFormat::kAuto, Limits(), kNow);
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_EQ(r->size(), 1u);
  ASSERT_TRUE((*r)[0]);
  EXPECT_EQ((*r)[0]->event.type, EventType::kUserSignin);
}

TEST(DecodeBody, ArrayKeepsOrder) {
  const std::string body = "[" + Line(EventType::kUserSignup, "a") + "," +
                           Line(EventType::kChatMessageSent, "b") + "," +
                           Line(EventType::kBillingPaymentFailed, "c") + "]";
  const auto r = DecodeBody(body, BodyFormat::kAuto, Limits(), kNow);
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_EQ(r->size(), 3u);
  const char* ids[] = {"a", "b", "c"};
  const EventType types[] = {EventType::kUserSignup, EventType::kChatMessageSent,
                             EventType::kBillingPaymentFailed};
  for (std::size_t i = 0; i < 3; ++i) {
    ASSERT_TRUE((*r)[i]) << i;
    EXPECT_EQ((*r)[i]->event.event_id, ids[i]);
    EXPECT_EQ((*r)[i]->event.type, types[i]);
  }
}

TEST(DecodeBody, BadArrayItemDoesNotAffectOthers) {
  const std::string body =
      "[" + Line(EventType::kUserSignup, "a") + ",42," + Line(EventType::kUserSignout, "c") + "]";
  const auto r = DecodeBody(body, BodyFormat::kJson, Limits(), kNow);
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_EQ(r->size(), 3u);
  EXPECT_TRUE((*r)[0]);
  ASSERT_FALSE((*r)[1]);
  EXPECT_EQ((*r)[1].error().code, reason::kNotAnObject);
  ASSERT_TRUE((*r)[2]);
  EXPECT_EQ((*r)[2]->event.event_id, "c");
}

// docs/events.md, section 5: "a rejected event does not affect the other events of the same
// request". A number beyond 64 bits is valid JSON, so the array is JSON and only its event is
// at stake.
TEST(DecodeBody, HugeNumberInOneArrayEventSparesTheOthers) {
  const std::string huge =
      R"({"type":"billing.payment_success","data":{"userId":"u","timestamp":)"
      R"("2025-06-01T11:00:00Z","amount":100000000000000000000,"currency":"USD","planId":"p"}})";
  const std::string body = "[" + Line(EventType::kUserSignout, "ok") + "," + huge + "]";
  const auto r = DecodeBody(body, BodyFormat::kAuto, Limits(), kNow);
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_EQ(r->size(), 2u);
  ASSERT_TRUE((*r)[0]);
  EXPECT_EQ((*r)[0]->event.event_id, "ok");
  EXPECT_FALSE((*r)[1]);
}

TEST(DecodeBody, HugeNumberInOneNdjsonLineSparesTheOthers) {
  const std::string huge =
      R"({"type":"user.signout","data":{"userId":"u","timestamp":"2025-06-01T11:00:00Z",)"
      R"("amount":1e400}})";
  const std::string body = Line(EventType::kUserSignout, "ok") + "\n" + huge + "\n";
  const auto r = DecodeBody(body, BodyFormat::kNdjson, Limits(), kNow);
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_EQ(r->size(), 2u);
  ASSERT_TRUE((*r)[0]);
  EXPECT_EQ((*r)[0]->event.event_id, "ok");
}

TEST(DecodeBody, TooLargeArrayItemIsRejectedAlone) {
  auto limits = Limits();
  limits.max_event_bytes = 512;
  auto big = ValidEvent(EventType::kChatConversationCreated);
  big["data"].as_object()["title"] = std::string(600, 't');
  const std::string body =
      "[" + json::serialize(big) + "," + Line(EventType::kUserSignout, "ok") + "]";
  const auto r = DecodeBody(body, BodyFormat::kAuto, limits, kNow);
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_EQ(r->size(), 2u);
  ASSERT_FALSE((*r)[0]);
  EXPECT_EQ((*r)[0].error().code, reason::kEventTooLarge);
  EXPECT_TRUE((*r)[1]);
}

TEST(DecodeBody, NdjsonWithContentType) {
  const std::string body = Line(EventType::kUserSignup, "a") + "\n" +
                           Line(EventType::kUserSignin, "b") + "\r\n\n" +
                           Line(EventType::kUserSignout, "c") + "\n";
  const auto r = DecodeBody(body, BodyFormat::kNdjson, Limits(), kNow);
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_EQ(r->size(), 3u);
  const char* ids[] = {"a", "b", "c"};
  for (std::size_t i = 0; i < 3; ++i) {
    ASSERT_TRUE((*r)[i]) << i << ": " << (*r)[i].error().message;
    EXPECT_EQ((*r)[i]->event.event_id, ids[i]);
  }
}

TEST(DecodeBody, NdjsonWithOneLineIsOneEvent) {
  const auto r = DecodeBody(Line(EventType::kUserSignup), BodyFormat::kNdjson, Limits(), kNow);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->size(), 1u);
  EXPECT_TRUE((*r)[0]);
}

TEST(DecodeBody, NdjsonIsDetectedWithoutContentType) {
  const std::string body =
      Line(EventType::kUserSignup, "a") + "\n" + Line(EventType::kUserSignout, "b");
  const auto r = DecodeBody(body, BodyFormat::kAuto, Limits(), kNow);
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_EQ(r->size(), 2u);
  ASSERT_TRUE((*r)[0]);
  ASSERT_TRUE((*r)[1]);
  EXPECT_EQ((*r)[0]->event.event_id, "a");
  EXPECT_EQ((*r)[1]->event.event_id, "b");
}

TEST(DecodeBody, ExplicitJsonDoesNotFallBackToNdjson) {
  const std::string body =
      Line(EventType::kUserSignup, "a") + "\n" + Line(EventType::kUserSignout, "b");
  const auto r = DecodeBody(body, BodyFormat::kJson, Limits(), kNow);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, base::ErrorCode::kInvalidArgument);
}

TEST(DecodeBody, BadNdjsonLineKeepsItsIndexAndSparesTheOthers) {
  const std::string body = Line(EventType::kUserSignup, "a") + "\n" + "{\"type\": oops\n" +
                           "[1]\n" + Line(EventType::kUserSignout, "d") + "\n";
  for (const auto format : {BodyFormat::kNdjson, BodyFormat::kAuto}) {
    const auto r = DecodeBody(body, format, Limits(), kNow);
    ASSERT_TRUE(r) << r.error().message;
    ASSERT_EQ(r->size(), 4u);
    ASSERT_TRUE((*r)[0]);
    EXPECT_EQ((*r)[0]->event.event_id, "a");
    ASSERT_FALSE((*r)[1]);
    EXPECT_EQ((*r)[1].error().code, reason::kInvalidJson);
    ASSERT_FALSE((*r)[2]);
    EXPECT_EQ((*r)[2].error().code, reason::kNotAnObject);
    ASSERT_TRUE((*r)[3]);
    EXPECT_EQ((*r)[3]->event.event_id, "d");
  }
}

TEST(DecodeBody, TooLargeNdjsonLineIsRejectedAlone) {
  auto limits = Limits();
  limits.max_event_bytes = 512;
  auto big = ValidEvent(EventType::kChatConversationCreated);
  big["data"].as_object()["title"] = std::string(600, 't');
  const std::string body = json::serialize(big) + "\n" + Line(EventType::kUserSignout, "ok");
  const auto r = DecodeBody(body, BodyFormat::kNdjson, limits, kNow);
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_EQ(r->size(), 2u);
  ASSERT_FALSE((*r)[0]);
  EXPECT_EQ((*r)[0].error().code, reason::kEventTooLarge);
  EXPECT_TRUE((*r)[1]);
}

TEST(DecodeBody, EmptyBodiesAreInvalidArguments) {
  for (const char* body : {"", "   ", "\n\n", "[]", " [ ] "}) {
    for (const auto format : {BodyFormat::kAuto, BodyFormat::kJson, BodyFormat::kNdjson}) {
      if (format == BodyFormat::kNdjson && std::string_view(body).find('[') != std::string::npos) {
        continue;  // "[]" is a line holding an array, not an empty NDJSON body
      }
      const auto r = DecodeBody(body, format, Limits(), kNow);
      ASSERT_FALSE(r) << "'" << body << "' format " << static_cast<int>(format);
      EXPECT_EQ(r.error().code, base::ErrorCode::kInvalidArgument);
    }
  }
}

TEST(DecodeBody, NonJsonBodyIsInvalidArgument) {
  for (const char* body : {"hello world", "<xml/>", "[1, 2", "\"unterminated"}) {
    const auto r = DecodeBody(body, BodyFormat::kAuto, Limits(), kNow);
    ASSERT_FALSE(r) << body;
    EXPECT_EQ(r.error().code, base::ErrorCode::kInvalidArgument) << body;
    EXPECT_EQ(r.error().field, "body");
  }
}

TEST(DecodeBody, TooManyEventsIsPayloadTooLarge) {
  auto limits = Limits();
  limits.max_batch_events = 2;
  const std::string a = Line(EventType::kUserSignout, "a");
  const std::string b = Line(EventType::kUserSignout, "b");
  const std::string c = Line(EventType::kUserSignout, "c");

  const auto array = DecodeBody("[" + a + "," + b + "," + c + "]", BodyFormat::kAuto, limits, kNow);
  ASSERT_FALSE(array);
  EXPECT_EQ(array.error().code, base::ErrorCode::kPayloadTooLarge);

  const auto ndjson = DecodeBody(a + "\n" + b + "\n" + c, BodyFormat::kNdjson, limits, kNow);
  ASSERT_FALSE(ndjson);
  EXPECT_EQ(ndjson.error().code, base::ErrorCode::kPayloadTooLarge);

  const auto detected = DecodeBody(a + "\n" + b + "\n" + c, BodyFormat::kAuto, limits, kNow);
  ASSERT_FALSE(detected);
  EXPECT_EQ(detected.error().code, base::ErrorCode::kPayloadTooLarge);
}

TEST(DecodeBody, TooManyEventsMessageNamesTheLimit) {
  auto limits = Limits();
  limits.max_batch_events = 1;
  const auto r = DecodeBody(
      "[" + Line(EventType::kUserSignout, "a") + "," + Line(EventType::kUserSignout, "b") + "]",
      BodyFormat::kJson, limits, kNow);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "a batch holds at most 1 events");
}

TEST(DecodeBody, ExactlyTheLimitIsAccepted) {
  auto limits = Limits();
  limits.max_batch_events = 2;
  const std::string a = Line(EventType::kUserSignout, "a");
  const std::string b = Line(EventType::kUserSignout, "b");
  const auto array = DecodeBody("[" + a + "," + b + "]", BodyFormat::kAuto, limits, kNow);
  ASSERT_TRUE(array);
  EXPECT_EQ(array->size(), 2u);
  const auto ndjson = DecodeBody(a + "\n" + b + "\n\n", BodyFormat::kNdjson, limits, kNow);
  ASSERT_TRUE(ndjson);
  EXPECT_EQ(ndjson->size(), 2u);
}

TEST(DecodeBody, UsesTheGivenNow) {
  const auto later = kNow + hours(24 * 400);
  const auto r = DecodeBody(Line(EventType::kUserSignout), BodyFormat::kAuto, Limits(), later);
  ASSERT_TRUE(r);
  EXPECT_TRUE((*r)[0]);
  const auto earlier = kNow - hours(48);
  const auto future =
      DecodeBody(Line(EventType::kUserSignout), BodyFormat::kAuto, Limits(), earlier);
  ASSERT_TRUE(future);
  ASSERT_FALSE((*future)[0]);
  EXPECT_EQ((*future)[0].error().code, reason::kTimestampInFuture);
}

// --- canonical form -----------------------------------------------------------------------

Event FullEvent() {
  Event e;
  e.event_id = "id-1";
  e.type = EventType::kChatMessageSent;
  e.timestamp = kEventTime;
  e.user_id = "u";
  e.plan = "plan";
  e.from_plan = "from";
  e.to_plan = "to";
  e.conversation_id = "conv";
  e.session_id = "sess";
  e.provider = "prov";
  e.model = "model";
  e.tokens = 10;
  e.input_tokens = 4;
  e.output_tokens = 6;
  e.latency_ms = 100;
  e.cost_usd = CostUsd{42};
  e.amount = Amount{1999};
  e.currency = "USD";
  e.reason = "why";
  e.subscription_ref = "sub";
  e.ip_prefix = "10.0.0.0/24";
  return e;
}

TEST(CanonicalForm, EqualEventsGiveEqualForms) {
  EXPECT_EQ(CanonicalForm(FullEvent()), CanonicalForm(FullEvent()));
  EXPECT_EQ(CanonicalForm(Event{}), CanonicalForm(Event{}));
}

TEST(CanonicalForm, IgnoresTheEventId) {
  auto other = FullEvent();
  other.event_id = "id-2";
  EXPECT_EQ(CanonicalForm(FullEvent()), CanonicalForm(other));
}

TEST(CanonicalForm, EveryStoredFieldChangesIt) {
  const std::vector<std::pair<const char*, std::function<void(Event&)>>> edits = {
      {"type", [](Event& e) { e.type = EventType::kUserSignup; }},
      {"timestamp", [](Event& e) { e.timestamp += milliseconds(1); }},
      {"user_id", [](Event& e) { e.user_id += "x"; }},
      {"plan", [](Event& e) { e.plan += "x"; }},
      {"from_plan", [](Event& e) { e.from_plan += "x"; }},
      {"to_plan", [](Event& e) { e.to_plan += "x"; }},
      {"conversation_id", [](Event& e) { e.conversation_id += "x"; }},
      {"session_id", [](Event& e) { e.session_id += "x"; }},
      {"provider", [](Event& e) { e.provider += "x"; }},
      {"model", [](Event& e) { e.model += "x"; }},
      {"tokens", [](Event& e) { e.tokens += 1; }},
      {"input_tokens", [](Event& e) { e.input_tokens = 5; }},
      {"input_tokens unset", [](Event& e) { e.input_tokens.reset(); }},
      {"output_tokens", [](Event& e) { e.output_tokens = 7; }},
      {"output_tokens unset", [](Event& e) { e.output_tokens.reset(); }},
      {"latency_ms", [](Event& e) { e.latency_ms = 101; }},
      {"latency_ms unset", [](Event& e) { e.latency_ms.reset(); }},
      {"cost_usd", [](Event& e) { e.cost_usd = CostUsd{43}; }},
      {"cost_usd unset", [](Event& e) { e.cost_usd.reset(); }},
      {"amount", [](Event& e) { e.amount = Amount{2000}; }},
      {"currency", [](Event& e) { e.currency = "EUR"; }},
      {"reason", [](Event& e) { e.reason += "x"; }},
      {"subscription_ref", [](Event& e) { e.subscription_ref += "x"; }},
      {"ip_prefix", [](Event& e) { e.ip_prefix = "10.0.1.0/24"; }},
  };
  const auto base_form = CanonicalForm(FullEvent());
  for (const auto& [name, edit] : edits) {
    auto e = FullEvent();
    edit(e);
    EXPECT_NE(CanonicalForm(e), base_form) << name;
  }
}

TEST(CanonicalForm, UnsetAndZeroOptionalsDiffer) {
  Event unset;
  Event zero;
  zero.input_tokens = 0;
  EXPECT_NE(CanonicalForm(unset), CanonicalForm(zero));
  Event zero_cost;
  zero_cost.cost_usd = CostUsd{0};
  EXPECT_NE(CanonicalForm(unset), CanonicalForm(zero_cost));
}

TEST(CanonicalForm, ValueMovedToTheNeighbouringFieldDiffers) {
  Event a;
  a.plan = "pro";
  Event b;
  b.from_plan = "pro";
  EXPECT_NE(CanonicalForm(a), CanonicalForm(b));
}

// Producers control these strings; a separator byte inside one must not make two different
// events canonically equal (they would get the same derived id and one would be dropped).
TEST(CanonicalForm, SeparatorInsideAFieldDoesNotCollide) {
  Event a;
  a.plan = std::string("x\x1f");
  a.from_plan = "y";
  Event b;
  b.plan = "x";
  b.from_plan = std::string("\x1fy");
  ASSERT_NE(a, b);
  EXPECT_NE(CanonicalForm(a), CanonicalForm(b));
}

TEST(CanonicalForm, DecodedEventsThatDifferGiveDifferentForms) {
  const auto a = DecodeWith(EventType::kChatMessageSent, [](json::object&) {});
  const auto b =
      DecodeWith(EventType::kChatMessageSent, [](json::object& d) { d["latencyMs"] = 901; });
  ASSERT_TRUE(a);
  ASSERT_TRUE(b);
  EXPECT_NE(CanonicalForm(a->event), CanonicalForm(b->event));
}

// --- TruncateIp ---------------------------------------------------------------------------

TEST(TruncateIp, Ipv4KeepsTheSlash24) {
  EXPECT_EQ(TruncateIp("203.0.113.77"), "203.0.113.0/24");
  EXPECT_EQ(TruncateIp("10.1.2.255"), "10.1.2.0/24");
  EXPECT_EQ(TruncateIp("0.0.0.0"), "0.0.0.0/24");
  EXPECT_EQ(TruncateIp("255.255.255.255"), "255.255.255.0/24");
}

TEST(TruncateIp, Ipv6KeepsTheSlash48) {
  EXPECT_EQ(TruncateIp("2001:db8:abcd:1234:5678:9abc:def0:1234"), "2001:db8:abcd::/48");
  EXPECT_EQ(TruncateIp("2001:DB8:ABCD:1::1"), "2001:db8:abcd::/48");
  EXPECT_EQ(TruncateIp("::1"), "::/48");
  EXPECT_EQ(TruncateIp("fe80::1"), "fe80::/48");
}

TEST(TruncateIp, EqualPrefixesForAddressesOfOneNetwork) {
  EXPECT_EQ(TruncateIp("198.51.100.1"), TruncateIp("198.51.100.254"));
  EXPECT_NE(TruncateIp("198.51.100.1"), TruncateIp("198.51.101.1"));
  EXPECT_EQ(TruncateIp("2001:db8:1::1"), TruncateIp("2001:db8:1:ffff::2"));
}

TEST(TruncateIp, GarbageIsEmpty) {
  for (const char* bad :
       {"", "not-an-ip", "1.2.3", "1.2.3.4.5", "256.1.1.1", "1.2.3.4:80", " 1.2.3.4", "1.2.3.4 ",
        "[::1]", "2001:db8::g", "::1::2", "example.com"}) {
    EXPECT_EQ(TruncateIp(bad), "") << bad;
  }
  EXPECT_EQ(TruncateIp(std::string(65, '1')), "");
}

TEST(TruncateIp, Ipv4MappedIpv6IsTruncatedAsIpv4) {
  EXPECT_EQ(TruncateIp("::ffff:203.0.113.77"), "203.0.113.0/24");
  EXPECT_EQ(TruncateIp("::FFFF:10.1.2.3"), "10.1.2.0/24");
}

// JSON strings may hold NUL ("\u0000"); bytes after it must not be silently ignored.
TEST(TruncateIp, AddressFollowedByNulAndJunkIsGarbage) {
  EXPECT_EQ(TruncateIp(std::string_view("1.2.3.4\0junk", 12)), "");
  EXPECT_EQ(TruncateIp(std::string_view("2001:db8::1\0x", 13)), "");
}

}  // namespace
}  // namespace domain
