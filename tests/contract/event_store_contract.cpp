#include "contract/event_store_contract.hpp"

#include <algorithm>
#include <atomic>
#include <unistd.h>

#include "domain/event.hpp"

namespace contract {
namespace {

using domain::Event;
using domain::EventType;

base::TimePoint At(std::int64_t ms) { return base::TimePoint(std::chrono::milliseconds(ms)); }

Event MakeEvent(std::string id, EventType type, std::int64_t ts_ms) {
  Event e;
  e.event_id = std::move(id);
  e.type = type;
  e.timestamp = At(ts_ms);
  e.user_id = "u-" + e.event_id;
  return e;
}

/// One event of each type with every field its type carries, optionals both set and unset.
std::vector<Event> OneOfEachType() {
  std::vector<Event> events;
  std::int64_t t = 1'750'000'000'123;
  int n = 0;
  for (const auto type : domain::AllEventTypes()) {
    Event e = MakeEvent("evt-" + std::to_string(n++), type, t += 61'001);
    switch (type) {
      case EventType::kUserSignup: e.plan = "pro"; break;
      case EventType::kUserSignin: e.ip_prefix = "203.0.113.0/24"; break;
      case EventType::kUserPlanUpgrade:
      case EventType::kUserPlanDowngrade:
        e.from_plan = "free";
        e.to_plan = "team";
        break;
      case EventType::kChatMessageSent:
        e.conversation_id = "conv-1";
        e.session_id = "sess-1";
        e.provider = "openai";
        e.model = "gpt-4o";
        e.tokens = 1234;
        e.input_tokens = 1000;
        e.output_tokens = 234;
        e.latency_ms = 4321;
        e.cost_usd = domain::CostUsd{123'456};
        break;
      case EventType::kChatConversationCreated:
      case EventType::kChatConversationDeleted: e.conversation_id = "conv-2"; break;
      case EventType::kBillingPaymentSuccess:
        e.amount = domain::Amount{199'900};
        e.currency = "EUR";
        e.plan = "pro_monthly";
        break;
      case EventType::kBillingPaymentFailed:
        e.amount = domain::Amount{5'000'000};
        e.currency = "USD";
        e.reason = "card_declined";
        break;
      case EventType::kBillingSubscriptionCreated:
        e.plan = "team_yearly";
        e.subscription_ref = "0123456789abcdef";
        break;
      default: break;
    }
    events.push_back(std::move(e));
  }
  // A message without the optional fields: they must come back unset, not as zeros.
  Event bare = MakeEvent("evt-bare", EventType::kChatMessageSent, t += 1);
  bare.provider = "anthropic";
  bare.model = "claude-sonnet-4";
  bare.tokens = 7;
  bare.conversation_id = "conv-3";
  events.push_back(std::move(bare));
  return events;
}

std::vector<Event> Sorted(std::vector<Event> events) {
  std::sort(events.begin(), events.end(), [](const Event& a, const Event& b) {
    return std::tie(a.timestamp, a.event_id) < std::tie(b.timestamp, b.event_id);
  });
  return events;
}

}  // namespace

void EventStoreContract::SetUp() {
  static std::atomic<int> counter{0};
  dir_ = std::filesystem::temp_directory_path() /
         ("analytics-contract-" + std::to_string(getpid()) + "-" + std::to_string(counter++));
  std::filesystem::remove_all(dir_);
  std::filesystem::create_directories(dir_);
  auto store = GetParam().open(dir_, clock_);
  ASSERT_TRUE(store) << store.error().message;
  store_ = std::move(*store);
  auto migrated = store_->Migrate();
  ASSERT_TRUE(migrated) << migrated.error().message;
}

void EventStoreContract::TearDown() {
  if (store_) store_->Close();
  store_.reset();
  std::filesystem::remove_all(dir_);
}

void EventStoreContract::Reopen() {
  store_->Close();
  store_.reset();
  auto store = GetParam().open(dir_, clock_);
  ASSERT_TRUE(store) << store.error().message;
  store_ = std::move(*store);
  auto migrated = store_->Migrate();
  ASSERT_TRUE(migrated) << migrated.error().message;
}

TEST_P(EventStoreContract, MigrateIsIdempotentAndReady) {
  ASSERT_TRUE(store_->Migrate());
  EXPECT_TRUE(store_->Ping());
  auto counts = store_->CountEvents();
  ASSERT_TRUE(counts) << counts.error().message;
  EXPECT_EQ(counts->total, 0u);
}

TEST_P(EventStoreContract, EveryFieldOfEveryTypeRoundTrips) {
  const auto events = OneOfEachType();
  ASSERT_TRUE(store_->Append(events));
  auto read = store_->ReadEvents(1000);
  ASSERT_TRUE(read) << read.error().message;
  const auto expected = Sorted(events);
  ASSERT_EQ(read->size(), expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ((*read)[i], expected[i]) << "event " << expected[i].event_id;
  }
}

TEST_P(EventStoreContract, CountsByTypeCountEachIdOnce) {
  ASSERT_TRUE(store_->Append(OneOfEachType()));
  auto counts = store_->CountEvents();
  ASSERT_TRUE(counts);
  EXPECT_EQ(counts->total, domain::kEventTypeCount + 1);
  EXPECT_EQ(counts->by_type[static_cast<int>(EventType::kChatMessageSent)], 2u);
  EXPECT_EQ(counts->by_type[static_cast<int>(EventType::kUserSignup)], 1u);
}

TEST_P(EventStoreContract, RowsSharingAnIdAreCountedOnce) {
  // A copy that reached storage twice (a retried partial insert, or beyond the dedup window).
  const std::vector<Event> one = {MakeEvent("dup-1", EventType::kUserSignin, 1'750'000'000'000)};
  ASSERT_TRUE(store_->Append(one));
  ASSERT_TRUE(store_->Append(one));
  auto counts = store_->CountEvents();
  ASSERT_TRUE(counts);
  EXPECT_EQ(counts->total, 1u);
  auto read = store_->ReadEvents(10);
  ASSERT_TRUE(read);
  EXPECT_EQ(read->size(), 1u);
}

TEST_P(EventStoreContract, RecentEventIdsAreThoseStoredSinceTheGivenTime) {
  ASSERT_TRUE(store_->Append(std::vector<Event>{MakeEvent("old", EventType::kUserSignin, 1'750'000'000'000)}));
  const auto second_batch_at = clock_.Now() + std::chrono::hours(2);
  clock_.Set(second_batch_at);
  ASSERT_TRUE(store_->Append(std::vector<Event>{MakeEvent("new-a", EventType::kUserSignin, 1'750'000'000'001),
                                                MakeEvent("new-b", EventType::kUserSignout, 1'750'000'000'002)}));
  auto recent = store_->RecentEventIds(second_batch_at);
  ASSERT_TRUE(recent) << recent.error().message;
  std::vector<std::string> ids;
  for (const auto& r : *recent) {
    ids.push_back(r.event_id);
    EXPECT_EQ(r.stored_at, second_batch_at);
  }
  std::sort(ids.begin(), ids.end());
  EXPECT_EQ(ids, (std::vector<std::string>{"new-a", "new-b"}));
  auto all = store_->RecentEventIds(base::TimePoint{});
  ASSERT_TRUE(all);
  EXPECT_EQ(all->size(), 3u);
}

TEST_P(EventStoreContract, DataSurvivesReopen) {
  ASSERT_TRUE(store_->Append(OneOfEachType()));
  Reopen();
  EXPECT_TRUE(store_->Ping());
  auto counts = store_->CountEvents();
  ASSERT_TRUE(counts);
  EXPECT_EQ(counts->total, domain::kEventTypeCount + 1);
}

TEST_P(EventStoreContract, AwkwardStringsAreStoredVerbatim) {
  // Bytes that would end or break inline INSERT data: empty lines, tabs, quotes, SQL.
  Event e = MakeEvent("evt-\n\n'quoted'\t\"x\"", EventType::kBillingPaymentFailed, 1'750'000'000'000);
  e.reason = "line one\n\nDROP TABLE events;\n\\N\t\x01 ünïcødé ✓";
  e.currency = "USD";
  e.user_id = std::string(300, 'u');  // longer than one varint byte
  ASSERT_TRUE(store_->Append(std::vector<Event>{e}));
  auto read = store_->ReadEvents(10);
  ASSERT_TRUE(read) << read.error().message;
  ASSERT_EQ(read->size(), 1u);
  EXPECT_EQ((*read)[0], e);
  EXPECT_TRUE(store_->Ping());
}

TEST_P(EventStoreContract, LargeBatchIsStoredWhole) {
  std::vector<Event> events;
  constexpr int kCount = 100'000;
  events.reserve(kCount);
  for (int i = 0; i < kCount; ++i) {
    Event e = MakeEvent("bulk-" + std::to_string(i), EventType::kChatMessageSent,
                        1'700'000'000'000 + static_cast<std::int64_t>(i) * 60'000);  // ~70 days
    e.provider = i % 2 ? "openai" : "google";
    e.model = "m";
    e.tokens = static_cast<std::uint32_t>(i % 1000);
    events.push_back(std::move(e));
  }
  ASSERT_TRUE(store_->Append(events));
  auto counts = store_->CountEvents();
  ASSERT_TRUE(counts);
  EXPECT_EQ(counts->total, static_cast<std::uint64_t>(kCount));
}

TEST_P(EventStoreContract, AppendOfNothingSucceeds) {
  EXPECT_TRUE(store_->Append({}));
  auto counts = store_->CountEvents();
  ASSERT_TRUE(counts);
  EXPECT_EQ(counts->total, 0u);
}

TEST_P(EventStoreContract, ClosedStoreRefusesWork) {
  store_->Close();
  const auto appended = store_->Append(std::vector<Event>{MakeEvent("late", EventType::kUserSignin, 1'750'000'000'000)});
  ASSERT_FALSE(appended);
  EXPECT_EQ(appended.error().code, base::ErrorCode::kUnavailable);
  EXPECT_FALSE(store_->Ping());
}

}  // namespace contract
