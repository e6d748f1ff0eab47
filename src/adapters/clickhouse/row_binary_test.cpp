#include "adapters/clickhouse/row_binary.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

namespace adapters::clickhouse {
namespace {

using domain::Event;
using domain::EventType;
using std::chrono::milliseconds;

const base::TimePoint kStoredAt = base::TimePoint(milliseconds(1'750'000'123'456));

/// An event of `type` with every field set, values depending on `n` so rows differ.
Event FullEvent(EventType type, int n) {
  Event e;
  const std::string s = std::to_string(n);
  e.event_id = "evt-" + s;
  e.type = type;
  e.timestamp = base::TimePoint(milliseconds(1'748'775'600'000 + n));
  e.user_id = "0123456789abcdef0123456789abcd" + s;
  e.plan = "plan-" + s;
  e.from_plan = "from-" + s;
  e.to_plan = "to-" + s;
  e.conversation_id = "conv-" + s;
  e.session_id = "sess-" + s;
  e.provider = "provider-" + s;
  e.model = "model-" + s;
  e.tokens = 1000u + static_cast<std::uint32_t>(n);
  e.input_tokens = 600u + static_cast<std::uint32_t>(n);
  e.output_tokens = 400u;
  e.latency_ms = 250u + static_cast<std::uint32_t>(n);
  e.cost_usd = domain::CostUsd{1'250'000 + n};
  e.amount = domain::Amount{199'900 + n};
  e.currency = "USD";
  e.reason = "card_declined " + s;
  e.subscription_ref = "subref-" + s;
  e.ip_prefix = "203.0.113.0/24";
  return e;
}

/// An event of `type` with only the fields every event has.
Event SparseEvent(EventType type, int n) {
  Event e;
  e.event_id = "sparse-" + std::to_string(n);
  e.type = type;
  e.timestamp = base::TimePoint(milliseconds(1'748'775'600'000));
  e.user_id = "u";
  return e;
}

std::vector<Event> RoundTrip(const std::vector<Event>& events) {
  std::string bytes;
  EncodeEventsRowBinary(events, kStoredAt, bytes);
  auto decoded = DecodeEventsRowBinary(bytes);
  EXPECT_TRUE(decoded) << decoded.error().message;
  return decoded ? *decoded : std::vector<Event>{};
}

std::string Int64Le(std::int64_t v) {
  std::string out(8, '\0');
  std::memcpy(out.data(), &v, 8);
  return out;
}

TEST(RowBinary, EveryTypeWithEveryFieldRoundTrips) {
  std::vector<Event> events;
  int n = 0;
  for (const auto type : domain::AllEventTypes()) events.push_back(FullEvent(type, n++));
  EXPECT_EQ(RoundTrip(events), events);
}

TEST(RowBinary, EveryTypeWithOptionalsUnsetRoundTrips) {
  std::vector<Event> events;
  int n = 0;
  for (const auto type : domain::AllEventTypes()) events.push_back(SparseEvent(type, n++));
  const auto back = RoundTrip(events);
  EXPECT_EQ(back, events);
  for (const auto& e : back) {
    EXPECT_FALSE(e.input_tokens);
    EXPECT_FALSE(e.output_tokens);
    EXPECT_FALSE(e.latency_ms);
    EXPECT_FALSE(e.cost_usd);
  }
}

TEST(RowBinary, OptionalsSetToZeroStayDistinctFromUnset) {
  Event e = SparseEvent(EventType::kChatMessageSent, 1);
  e.input_tokens = 0;
  e.output_tokens = 0;
  e.latency_ms = 0;
  e.cost_usd = domain::CostUsd{0};
  const auto back = RoundTrip({e});
  ASSERT_EQ(back.size(), 1u);
  EXPECT_EQ(back[0].input_tokens, 0u);
  EXPECT_EQ(back[0].output_tokens, 0u);
  EXPECT_EQ(back[0].latency_ms, 0u);
  ASSERT_TRUE(back[0].cost_usd);
  EXPECT_EQ(back[0].cost_usd->units, 0);
}

TEST(RowBinary, MixedOptionalsRoundTrip) {
  Event e = SparseEvent(EventType::kChatMessageSent, 2);
  e.output_tokens = 77;
  e.cost_usd = domain::CostUsd{5};
  Event f = SparseEvent(EventType::kChatMessageSent, 3);
  f.input_tokens = 12;
  f.latency_ms = 4;
  EXPECT_EQ(RoundTrip({e, f}), (std::vector<Event>{e, f}));
}

TEST(RowBinary, UnicodeEmptyAndLongStringsRoundTrip) {
  Event e = FullEvent(EventType::kUserSignup, 7);
  e.user_id = "Zoë 🚀 日本語 — ünïcödé";
  e.plan = "";
  e.from_plan = std::string(127, 'a');  // longest one-byte length
  e.to_plan = std::string(128, 'b');    // shortest two-byte length
  e.conversation_id = std::string(300, 'c');
  e.session_id = std::string(16384, 's');  // three-byte length
  e.reason = std::string("nul\0inside", 10);
  e.model = "\xff\xfe binary";
  EXPECT_EQ(RoundTrip({e}), std::vector<Event>{e});
}

TEST(RowBinary, ExtremeNumbersRoundTrip) {
  Event e = SparseEvent(EventType::kBillingPaymentSuccess, 1);
  e.tokens = std::numeric_limits<std::uint32_t>::max();
  e.input_tokens = std::numeric_limits<std::uint32_t>::max();
  e.amount = domain::Amount{std::numeric_limits<std::int64_t>::max()};
  e.cost_usd = domain::CostUsd{std::numeric_limits<std::int64_t>::min()};
  e.timestamp = base::TimePoint(milliseconds(-1));
  Event f = SparseEvent(EventType::kBillingPaymentFailed, 2);
  f.amount = domain::Amount{-5};
  EXPECT_EQ(RoundTrip({e, f}), (std::vector<Event>{e, f}));
}

TEST(RowBinary, NoEventsIsNoBytes) {
  std::string bytes;
  EncodeEventsRowBinary({}, kStoredAt, bytes);
  EXPECT_TRUE(bytes.empty());
  const auto back = DecodeEventsRowBinary("");
  ASSERT_TRUE(back);
  EXPECT_TRUE(back->empty());
}

TEST(RowBinary, EncodeAppends) {
  std::string bytes = "prefix";
  const std::vector<Event> events{SparseEvent(EventType::kUserSignout, 1)};
  EncodeEventsRowBinary(events, kStoredAt, bytes);
  ASSERT_GT(bytes.size(), 6u);
  EXPECT_EQ(bytes.substr(0, 6), "prefix");
  std::string alone;
  EncodeEventsRowBinary(events, kStoredAt, alone);
  EXPECT_EQ(bytes.substr(6), alone);
}

TEST(RowBinary, WireLayoutMatchesTheColumns) {
  Event e;
  e.event_id = "ab";
  e.type = EventType::kUserSignin;
  e.timestamp = base::TimePoint(milliseconds(0x0102030405060708));
  e.user_id = "u";
  std::string bytes;
  EncodeEventsRowBinary(std::vector<Event>{e}, kStoredAt, bytes);

  std::string expected;
  expected += "\x02"
              "ab";                      // event_id: varint length, bytes
  expected += '\x02';                    // event_type Enum8: user.signin = 2
  expected += Int64Le(0x0102030405060708);  // ts_ms, little-endian
  expected += "\x01u";                   // user_id
  expected += std::string(7, '\0');      // plan .. model: seven empty strings
  expected += std::string(4, '\0');      // tokens UInt32
  expected += "\x01\x01\x01\x01";        // input, output, latency, cost: NULL
  expected += Int64Le(0);                // amount
  expected += std::string(4, '\0');      // currency, reason, subscription_ref, ip_prefix
  expected += Int64Le(kStoredAt.time_since_epoch().count());  // stored_at_ms
  EXPECT_EQ(bytes, expected);
}

TEST(RowBinary, NullableValueFollowsAZeroFlag) {
  Event e = SparseEvent(EventType::kChatMessageSent, 0);
  e.input_tokens = 0x11223344;
  std::string bytes;
  EncodeEventsRowBinary(std::vector<Event>{e}, kStoredAt, bytes);
  const std::string flag_and_value = std::string("\0\x44\x33\x22\x11", 5);
  EXPECT_NE(bytes.find(flag_and_value), std::string::npos);
}

TEST(RowBinary, LongStringLengthIsAVarint) {
  Event e = SparseEvent(EventType::kUserSignout, 0);
  e.event_id = std::string(300, 'x');
  std::string bytes;
  EncodeEventsRowBinary(std::vector<Event>{e}, kStoredAt, bytes);
  ASSERT_GE(bytes.size(), 302u);
  EXPECT_EQ(static_cast<unsigned char>(bytes[0]), 0xAC);  // 300 = 0b10'0101100
  EXPECT_EQ(static_cast<unsigned char>(bytes[1]), 0x02);
  EXPECT_EQ(bytes.substr(2, 300), std::string(300, 'x'));
}

TEST(RowBinary, EveryTruncationIsAnError) {
  std::string bytes;
  EncodeEventsRowBinary(std::vector<Event>{FullEvent(EventType::kChatMessageSent, 1)}, kStoredAt,
                        bytes);
  for (std::size_t n = 1; n < bytes.size(); ++n) {
    const auto r = DecodeEventsRowBinary(std::string_view(bytes).substr(0, n));
    EXPECT_FALSE(r) << "prefix of " << n << " of " << bytes.size() << " bytes decoded";
  }
}

TEST(RowBinary, TruncatedSecondRowIsAnErrorNotAPartialAnswer) {
  std::string bytes;
  EncodeEventsRowBinary(std::vector<Event>{FullEvent(EventType::kUserSignup, 1),
                                           FullEvent(EventType::kUserSignup, 2)},
                        kStoredAt, bytes);
  bytes.pop_back();
  const auto r = DecodeEventsRowBinary(bytes);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, base::ErrorCode::kInternal);
}

TEST(RowBinary, UnknownTypeIsAnError) {
  for (const char type : {'\0', '\x0d', '\x7f', '\xff'}) {
    std::string bytes;
    EncodeEventsRowBinary(std::vector<Event>{SparseEvent(EventType::kUserSignout, 1)}, kStoredAt,
                          bytes);
    const std::size_t type_offset = 1 + std::string("sparse-1").size();
    ASSERT_EQ(bytes[type_offset], '\x03');
    bytes[type_offset] = type;
    EXPECT_FALSE(DecodeEventsRowBinary(bytes)) << static_cast<int>(type);
  }
}

TEST(RowBinary, StringLongerThanTheInputIsAnError) {
  const std::string bytes = "\x05"
                            "ab";
  EXPECT_FALSE(DecodeEventsRowBinary(bytes));
  EXPECT_FALSE(DecodeIdTimeRows(bytes));
}

TEST(RowBinary, EndlessVarintIsAnError) {
  const std::string bytes(12, '\xff');
  EXPECT_FALSE(DecodeEventsRowBinary(bytes));
  EXPECT_FALSE(DecodeIdTimeRows(bytes));
}

TEST(RowBinary, HugeVarintLengthIsAnError) {
  std::string bytes = "\xff\xff\xff\xff\xff\xff\xff\xff\x7f";
  bytes += "abc";
  EXPECT_FALSE(DecodeIdTimeRows(bytes));
}

TEST(DecodeIdTimeRows, ReadsIdsWithTheirTimes) {
  std::string bytes;
  bytes += "\x03"
           "e-1";
  bytes += Int64Le(1'750'000'000'000);
  bytes.push_back('\0');  // an empty id
  bytes += Int64Le(-7);
  const std::string long_id(200, 'L');
  bytes += "\xc8\x01";  // 200
  bytes += long_id;
  bytes += Int64Le(42);
  const auto rows = DecodeIdTimeRows(bytes);
  ASSERT_TRUE(rows) << rows.error().message;
  ASSERT_EQ(rows->size(), 3u);
  EXPECT_EQ((*rows)[0].first, "e-1");
  EXPECT_EQ((*rows)[0].second, base::TimePoint(milliseconds(1'750'000'000'000)));
  EXPECT_EQ((*rows)[1].first, "");
  EXPECT_EQ((*rows)[1].second, base::TimePoint(milliseconds(-7)));
  EXPECT_EQ((*rows)[2].first, long_id);
  EXPECT_EQ((*rows)[2].second, base::TimePoint(milliseconds(42)));
}

TEST(DecodeIdTimeRows, EmptyInputIsNoRows) {
  const auto rows = DecodeIdTimeRows("");
  ASSERT_TRUE(rows);
  EXPECT_TRUE(rows->empty());
}

TEST(DecodeIdTimeRows, TruncatedRowIsAnError) {
  std::string bytes = "\x03"
                      "e-1" +
                      Int64Le(1);
  for (std::size_t n = 1; n < bytes.size(); ++n) {
    const auto r = DecodeIdTimeRows(std::string_view(bytes).substr(0, n));
    ASSERT_FALSE(r) << n;
    EXPECT_EQ(r.error().code, base::ErrorCode::kInternal);
  }
  bytes += "\x01";
  EXPECT_FALSE(DecodeIdTimeRows(bytes));
}

}  // namespace
}  // namespace adapters::clickhouse
