#include "app/ingest_service.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace app {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;

const base::TimePoint kNow = base::TimePoint(milliseconds(1'750'000'000'000));
const base::TimePoint kEventTime = kNow - minutes(5);
/// Only a guard against a hung writer; a healthy test never comes near it.
constexpr auto kDeadlockGuard = std::chrono::seconds(30);

/// In-memory EventStore that can be told to fail, or to hold one Append until released.
class FakeEventStore final : public EventStore {
 public:
  base::Status Migrate() override { return {}; }
  base::Status Ping() override { return {}; }

  base::Status Append(std::span<const domain::Event> events) override {
    std::unique_lock lock(mutex_);
    ++append_calls_;
    batch_sizes_.push_back(events.size());
    if (block_next_append_) {
      block_next_append_ = false;
      blocked_ = true;
      changed_.notify_all();
      changed_.wait(lock, [&] { return !blocked_; });
    }
    if (fail_appends_) return base::Fail(base::Error::Unavailable("the disk is on fire"));
    events_.insert(events_.end(), events.begin(), events.end());
    return {};
  }

  base::Result<std::vector<StoredId>> RecentEventIds(base::TimePoint since) override {
    std::lock_guard lock(mutex_);
    recent_since_ = since;
    if (fail_recent_) return base::Fail(base::Error::Unavailable("cannot read ids"));
    return recent_;  // everything, so the service's own horizon check is exercised too
  }

  base::Result<EventCounts> CountEvents() override {
    std::lock_guard lock(mutex_);
    EventCounts counts;
    for (const auto& e : events_) {
      ++counts.total;
      ++counts.by_type[static_cast<std::size_t>(e.type)];
    }
    return counts;
  }

  base::Result<std::vector<domain::Event>> ReadEvents(std::size_t limit) override {
    std::lock_guard lock(mutex_);
    std::vector<domain::Event> out(events_.begin(),
                                   events_.begin() + std::min(limit, events_.size()));
    return out;
  }

  void Close() override {}

  // Test controls.
  void SetRecent(std::vector<StoredId> ids) {
    std::lock_guard lock(mutex_);
    recent_ = std::move(ids);
  }
  void FailRecent() {
    std::lock_guard lock(mutex_);
    fail_recent_ = true;
  }
  void FailAppends(bool fail) {
    std::lock_guard lock(mutex_);
    fail_appends_ = fail;
  }
  void BlockNextAppend() {
    std::lock_guard lock(mutex_);
    block_next_append_ = true;
  }
  /// True once an Append is held by BlockNextAppend.
  bool WaitUntilBlocked() {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, kDeadlockGuard, [&] { return blocked_; });
  }
  void Release() {
    {
      std::lock_guard lock(mutex_);
      blocked_ = false;
      block_next_append_ = false;
    }
    changed_.notify_all();
  }

  std::vector<domain::Event> Events() const {
    std::lock_guard lock(mutex_);
    return events_;
  }
  std::vector<std::size_t> BatchSizes() const {
    std::lock_guard lock(mutex_);
    return batch_sizes_;
  }
  int AppendCalls() const {
    std::lock_guard lock(mutex_);
    return append_calls_;
  }
  std::optional<base::TimePoint> RecentSince() const {
    std::lock_guard lock(mutex_);
    return recent_since_;
  }

 private:
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<domain::Event> events_;
  std::vector<std::size_t> batch_sizes_;
  std::vector<StoredId> recent_;
  std::optional<base::TimePoint> recent_since_;
  int append_calls_ = 0;
  bool fail_appends_ = false;
  bool fail_recent_ = false;
  bool block_next_append_ = false;
  bool blocked_ = false;
};

/// Readable, reversible stand-in for the HMAC: "p:" + raw, and "d:" + a hash of the form.
class PrefixPseudonymizer final : public Pseudonymizer {
 public:
  std::string PseudonymizeId(std::string_view raw) const override {
    return "p:" + std::string(raw);
  }
  std::string DeriveEventId(std::string_view canonical) const override {
    std::uint64_t h = 1469598103934665603ULL;  // FNV-1a
    for (unsigned char c : canonical) {
      h ^= c;
      h *= 1099511628211ULL;
    }
    char buf[17];
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
    return std::string("d:") + buf;
  }
};

class CountingMetrics final : public IngestMetrics {
 public:
  void EventsReceived(std::string_view source, std::size_t n) override {
    std::lock_guard lock(mutex_);
    last_source_ = std::string(source);
    received_ += n;
  }
  void EventRejected(std::string_view, std::string_view reason) override {
    std::lock_guard lock(mutex_);
    rejected_reasons_.emplace_back(reason);
  }
  void EventsDuplicate(std::size_t n) override {
    std::lock_guard lock(mutex_);
    duplicates_ += n;
  }
  void BatchStored(std::size_t events, std::chrono::duration<double>) override {
    std::lock_guard lock(mutex_);
    stored_ += events;
    ++batches_stored_;
  }
  void BatchFailed() override {
    std::lock_guard lock(mutex_);
    ++batches_failed_;
  }
  void PendingEvents(std::size_t) override {}

  std::size_t received() const { return Get(received_); }
  std::size_t duplicates() const { return Get(duplicates_); }
  std::size_t stored() const { return Get(stored_); }
  std::size_t batches_stored() const { return Get(batches_stored_); }
  std::size_t batches_failed() const { return Get(batches_failed_); }
  std::string last_source() const {
    std::lock_guard lock(mutex_);
    return last_source_;
  }
  std::vector<std::string> rejected_reasons() const {
    std::lock_guard lock(mutex_);
    return rejected_reasons_;
  }

 private:
  std::size_t Get(const std::size_t& v) const {
    std::lock_guard lock(mutex_);
    return v;
  }
  mutable std::mutex mutex_;
  std::string last_source_;
  std::vector<std::string> rejected_reasons_;
  std::size_t received_ = 0;
  std::size_t duplicates_ = 0;
  std::size_t stored_ = 0;
  std::size_t batches_stored_ = 0;
  std::size_t batches_failed_ = 0;
};

using Outcome = base::Result<std::vector<EventResult>>;

/// One submission's callback, observable from the test thread.
class Pending {
 public:
  IngestCallback Callback() {
    return [promise = promise_, thread = thread_](Outcome outcome) {
      *thread = std::this_thread::get_id();
      promise->set_value(std::move(outcome));
    };
  }
  bool Ready() const {
    return future_.wait_for(std::chrono::seconds(0)) == std::future_status::ready;
  }
  Outcome Wait() {
    if (future_.wait_for(kDeadlockGuard) != std::future_status::ready) {
      ADD_FAILURE() << "the callback never ran";
      return base::Fail(base::Error::Internal("callback never ran"));
    }
    return future_.get();
  }
  std::thread::id CalledOn() const { return *thread_; }

 private:
  std::shared_ptr<std::promise<Outcome>> promise_ = std::make_shared<std::promise<Outcome>>();
  std::shared_ptr<std::thread::id> thread_ = std::make_shared<std::thread::id>();
  std::future<Outcome> future_ = promise_->get_future();
};

domain::DecodeResult Valid(std::string user, std::string id = {}) {
  domain::DecodedEvent d;
  d.event.type = domain::EventType::kUserSignout;
  d.event.timestamp = kEventTime;
  d.event.user_id = std::move(user);
  if (!id.empty()) {
    d.event.event_id = std::move(id);
    d.id_was_sent = true;
  }
  return d;
}

domain::DecodeResult Rejected(std::string code, std::string field) {
  return std::unexpected(domain::Rejection{std::move(code), std::move(field), "it is wrong"});
}

template <typename... Ds>
std::vector<domain::DecodeResult> Events(Ds... ds) {
  std::vector<domain::DecodeResult> v;
  (v.push_back(std::move(ds)), ...);
  return v;
}

std::vector<std::string> IdsOf(const std::vector<domain::Event>& events) {
  std::vector<std::string> ids;
  for (const auto& e : events) ids.push_back(e.event_id);
  return ids;
}

class IngestServiceTest : public testing::Test {
 protected:
  static IngestService::Options DefaultOptions() {
    IngestService::Options o;
    o.max_batch_events = 1000;
    o.max_delay = milliseconds(0);
    o.max_pending_events = 1000;
    o.dedup_horizon = hours(1);
    o.dedup_max_ids = 1000;
    return o;
  }

  void TearDown() override {
    store_.Release();  // never leave the writer stuck in Append when a test fails early
    service_.reset();
  }

  IngestService& Make(IngestService::Options options = DefaultOptions()) {
    service_ = std::make_unique<IngestService>(store_, pseudonymizer_, clock_, metrics_, options);
    return *service_;
  }

  IngestService& Started(IngestService::Options options = DefaultOptions()) {
    auto& s = Make(options);
    const auto status = s.Start();
    EXPECT_TRUE(status) << status.error().message;
    return s;
  }

  Outcome IngestAndWait(std::vector<domain::DecodeResult> decoded) {
    Pending p;
    service_->Ingest("test", std::move(decoded), p.Callback());
    return p.Wait();
  }

  FakeEventStore store_;
  PrefixPseudonymizer pseudonymizer_;
  base::FixedClock clock_{kNow};
  CountingMetrics metrics_;
  std::unique_ptr<IngestService> service_;
};

TEST_F(IngestServiceTest, StoresValidEventsAndReportsThemInOrder) {
  Started();
  const auto out = IngestAndWait(Events(Valid("alice", "e-1"), Valid("bob", "e-2")));
  ASSERT_TRUE(out) << out.error().message;
  ASSERT_EQ(out->size(), 2u);
  EXPECT_EQ((*out)[0].outcome, EventOutcome::kStored);
  EXPECT_EQ((*out)[0].event_id, "e-1");
  EXPECT_EQ((*out)[1].outcome, EventOutcome::kStored);
  EXPECT_EQ((*out)[1].event_id, "e-2");
  EXPECT_EQ(IdsOf(store_.Events()), (std::vector<std::string>{"e-1", "e-2"}));
}

TEST_F(IngestServiceTest, UserIdsArePseudonymisedBeforeTheStore) {
  Started();
  ASSERT_TRUE(IngestAndWait(Events(Valid("alice", "e-1"), Valid("bob", "e-2"))));
  const auto stored = store_.Events();
  ASSERT_EQ(stored.size(), 2u);
  EXPECT_EQ(stored[0].user_id, "p:alice");
  EXPECT_EQ(stored[1].user_id, "p:bob");
}

TEST_F(IngestServiceTest, SubscriptionRefIsPseudonymised) {
  Started();
  auto with_ref = Valid("alice", "e-1");
  with_ref->event.type = domain::EventType::kBillingSubscriptionCreated;
  with_ref->event.plan = "pro";
  with_ref->event.subscription_ref = "sub_123";
  auto without_ref = Valid("bob", "e-2");
  without_ref->event.type = domain::EventType::kBillingSubscriptionCreated;
  without_ref->event.plan = "pro";
  ASSERT_TRUE(IngestAndWait(Events(with_ref, without_ref)));
  const auto stored = store_.Events();
  ASSERT_EQ(stored.size(), 2u);
  EXPECT_EQ(stored[0].subscription_ref, "p:sub_123");
  EXPECT_EQ(stored[1].subscription_ref, "") << "an absent ref must stay absent";
}

TEST_F(IngestServiceTest, PrepareDerivesTheIdFromThePseudonymisedCanonicalForm) {
  auto& s = Make();
  auto decoded = Valid("alice");
  const auto prepared = s.Prepare(std::move(*decoded));
  EXPECT_EQ(prepared.user_id, "p:alice");
  EXPECT_FALSE(prepared.event_id.empty());
  EXPECT_EQ(prepared.event_id, pseudonymizer_.DeriveEventId(domain::CanonicalForm(prepared)));
}

TEST_F(IngestServiceTest, PrepareKeepsASentId) {
  auto& s = Make();
  const auto prepared = s.Prepare(std::move(*Valid("alice", "sent-id")));
  EXPECT_EQ(prepared.event_id, "sent-id");
}

TEST_F(IngestServiceTest, EventsWithoutIdGetTheDerivedId) {
  Started();
  const auto out = IngestAndWait(Events(Valid("alice")));
  ASSERT_TRUE(out);
  const auto stored = store_.Events();
  ASSERT_EQ(stored.size(), 1u);
  EXPECT_EQ(stored[0].event_id, pseudonymizer_.DeriveEventId(domain::CanonicalForm(stored[0])));
  EXPECT_EQ((*out)[0].event_id, stored[0].event_id);
}

TEST_F(IngestServiceTest, EqualContentGetsEqualDerivedIdAndIsStoredOnce) {
  Started();
  const auto first = IngestAndWait(Events(Valid("alice")));
  const auto again = IngestAndWait(Events(Valid("alice")));
  ASSERT_TRUE(first);
  ASSERT_TRUE(again);
  EXPECT_EQ((*again)[0].event_id, (*first)[0].event_id);
  EXPECT_EQ((*again)[0].outcome, EventOutcome::kDuplicate);
  EXPECT_EQ(store_.Events().size(), 1u);
}

TEST_F(IngestServiceTest, DifferentContentGetsDifferentDerivedIds) {
  Started();
  auto later = Valid("alice");
  later->event.timestamp += milliseconds(1);
  const auto out = IngestAndWait(Events(Valid("alice"), Valid("bob"), later));
  ASSERT_TRUE(out);
  EXPECT_NE((*out)[0].event_id, (*out)[1].event_id);
  EXPECT_NE((*out)[0].event_id, (*out)[2].event_id);
  for (const auto& r : *out) EXPECT_EQ(r.outcome, EventOutcome::kStored);
  EXPECT_EQ(store_.Events().size(), 3u);
}

TEST_F(IngestServiceTest, DuplicatesInsideOneSubmissionAreStoredOnce) {
  Started();
  const auto out = IngestAndWait(Events(Valid("alice", "e-1"), Valid("bob", "e-1"),
                                        Valid("carol", "e-2")));
  ASSERT_TRUE(out);
  EXPECT_EQ((*out)[0].outcome, EventOutcome::kStored);
  EXPECT_EQ((*out)[1].outcome, EventOutcome::kDuplicate);
  EXPECT_EQ((*out)[1].event_id, "e-1");
  EXPECT_EQ((*out)[2].outcome, EventOutcome::kStored);
  const auto stored = store_.Events();
  ASSERT_EQ(stored.size(), 2u);
  EXPECT_EQ(stored[0].user_id, "p:alice") << "the first copy wins";
  EXPECT_EQ(metrics_.duplicates(), 1u);
}

TEST_F(IngestServiceTest, DuplicatesAcrossSubmissionsAreStoredOnce) {
  Started();
  ASSERT_TRUE(IngestAndWait(Events(Valid("alice", "e-1"))));
  const auto again = IngestAndWait(Events(Valid("alice", "e-1"), Valid("alice", "e-2")));
  ASSERT_TRUE(again);
  EXPECT_EQ((*again)[0].outcome, EventOutcome::kDuplicate);
  EXPECT_EQ((*again)[1].outcome, EventOutcome::kStored);
  EXPECT_EQ(IdsOf(store_.Events()), (std::vector<std::string>{"e-1", "e-2"}));
}

TEST_F(IngestServiceTest, AllDuplicateSubmissionDoesNotTouchTheStore) {
  Started();
  ASSERT_TRUE(IngestAndWait(Events(Valid("alice", "e-1"))));
  const auto again = IngestAndWait(Events(Valid("alice", "e-1")));
  ASSERT_TRUE(again);
  EXPECT_EQ((*again)[0].outcome, EventOutcome::kDuplicate);
  EXPECT_EQ(store_.AppendCalls(), 1);
}

TEST_F(IngestServiceTest, IdsStoredBeforeARestartAreDuplicates) {
  store_.SetRecent({{"e-before-restart", kNow - minutes(30)}, {"e-just-now", kNow - minutes(1)}});
  auto& s = Started();
  EXPECT_EQ(store_.RecentSince(), kNow - hours(1));
  EXPECT_EQ(s.DedupWindowSize(), 2u);
  const auto out = IngestAndWait(
      Events(Valid("alice", "e-before-restart"), Valid("bob", "e-just-now"), Valid("c", "new")));
  ASSERT_TRUE(out);
  EXPECT_EQ((*out)[0].outcome, EventOutcome::kDuplicate);
  EXPECT_EQ((*out)[1].outcome, EventOutcome::kDuplicate);
  EXPECT_EQ((*out)[2].outcome, EventOutcome::kStored);
  EXPECT_EQ(IdsOf(store_.Events()), (std::vector<std::string>{"new"}));
}

TEST_F(IngestServiceTest, StartForgetsIdsOlderThanTheHorizon) {
  store_.SetRecent({{"stale", kNow - hours(2)}, {"fresh", kNow - minutes(10)}});
  auto& s = Started();
  EXPECT_EQ(s.DedupWindowSize(), 1u);
  const auto out = IngestAndWait(Events(Valid("a", "stale"), Valid("b", "fresh")));
  ASSERT_TRUE(out);
  EXPECT_EQ((*out)[0].outcome, EventOutcome::kStored);
  EXPECT_EQ((*out)[1].outcome, EventOutcome::kDuplicate);
}

TEST_F(IngestServiceTest, StartFailsWhenRecentIdsCannotBeRead) {
  store_.FailRecent();
  auto& s = Make();
  const auto status = s.Start();
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().code, base::ErrorCode::kUnavailable);
  Pending p;
  s.Ingest("test", Events(Valid("alice", "e-1")), p.Callback());
  const auto out = p.Wait();
  ASSERT_FALSE(out);
  EXPECT_EQ(out.error().code, base::ErrorCode::kUnavailable);
}

TEST_F(IngestServiceTest, IdsAreForgottenAfterTheHorizon) {
  Started();
  ASSERT_TRUE(IngestAndWait(Events(Valid("alice", "e-1"))));
  clock_.Set(kNow + hours(2));
  ASSERT_TRUE(IngestAndWait(Events(Valid("alice", "e-2"))));  // expires e-1
  const auto again = IngestAndWait(Events(Valid("alice", "e-1")));
  ASSERT_TRUE(again);
  EXPECT_EQ((*again)[0].outcome, EventOutcome::kStored);
}

TEST_F(IngestServiceTest, StoreFailureIsUnavailableAndRetryStores) {
  Started();
  store_.FailAppends(true);
  const auto failed = IngestAndWait(Events(Valid("alice", "e-1"), Valid("bob", "e-2")));
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().code, base::ErrorCode::kUnavailable);
  EXPECT_TRUE(store_.Events().empty());
  EXPECT_EQ(metrics_.batches_failed(), 1u);

  store_.FailAppends(false);
  const auto retried = IngestAndWait(Events(Valid("alice", "e-1"), Valid("bob", "e-2")));
  ASSERT_TRUE(retried) << retried.error().message;
  EXPECT_EQ((*retried)[0].outcome, EventOutcome::kStored);
  EXPECT_EQ((*retried)[1].outcome, EventOutcome::kStored);
  EXPECT_EQ(IdsOf(store_.Events()), (std::vector<std::string>{"e-1", "e-2"}));
}

TEST_F(IngestServiceTest, StoreFailureFailsEverySubmissionOfTheBatch) {
  Started();
  store_.FailAppends(true);
  store_.BlockNextAppend();
  Pending first;
  service_->Ingest("test", Events(Valid("a", "e-1")), first.Callback());
  ASSERT_TRUE(store_.WaitUntilBlocked());
  Pending second;
  Pending third;
  service_->Ingest("test", Events(Valid("b", "e-2")), second.Callback());
  service_->Ingest("test", Events(Valid("c", "e-3")), third.Callback());
  store_.Release();
  for (Pending* p : {&first, &second, &third}) {
    const auto out = p->Wait();
    ASSERT_FALSE(out);
    EXPECT_EQ(out.error().code, base::ErrorCode::kUnavailable);
  }
  EXPECT_EQ(store_.BatchSizes(), (std::vector<std::size_t>{1, 2}));
  EXPECT_TRUE(store_.Events().empty());
}

TEST_F(IngestServiceTest, RejectedEventsPassThroughAndAreNeverStored) {
  Started();
  const auto out = IngestAndWait(Events(Valid("alice", "e-1"),
                                        Rejected("invalid_field", "data.userId"),
                                        Valid("bob", "e-3")));
  ASSERT_TRUE(out);
  ASSERT_EQ(out->size(), 3u);
  EXPECT_EQ((*out)[0].outcome, EventOutcome::kStored);
  EXPECT_EQ((*out)[1].outcome, EventOutcome::kRejected);
  EXPECT_EQ((*out)[1].rejection.code, "invalid_field");
  EXPECT_EQ((*out)[1].rejection.field, "data.userId");
  EXPECT_EQ((*out)[1].rejection.message, "it is wrong");
  EXPECT_TRUE((*out)[1].event_id.empty());
  EXPECT_EQ((*out)[2].outcome, EventOutcome::kStored);
  EXPECT_EQ(IdsOf(store_.Events()), (std::vector<std::string>{"e-1", "e-3"}));
  EXPECT_EQ(metrics_.rejected_reasons(), (std::vector<std::string>{"invalid_field"}));
  EXPECT_EQ(metrics_.received(), 3u);
  EXPECT_EQ(metrics_.last_source(), "test");
}

TEST_F(IngestServiceTest, OnlyRejectedEventsCallBackAtOnce) {
  Started();
  Pending p;
  service_->Ingest("test", Events(Rejected("unknown_type", "type"), Rejected("invalid_json", "")),
                   p.Callback());
  ASSERT_TRUE(p.Ready()) << "the callback must run before Ingest returns";
  EXPECT_EQ(p.CalledOn(), std::this_thread::get_id());
  const auto out = p.Wait();
  ASSERT_TRUE(out);
  ASSERT_EQ(out->size(), 2u);
  EXPECT_EQ((*out)[0].outcome, EventOutcome::kRejected);
  EXPECT_EQ((*out)[0].rejection.code, "unknown_type");
  EXPECT_EQ((*out)[1].outcome, EventOutcome::kRejected);
  EXPECT_EQ(store_.AppendCalls(), 0);
}

TEST_F(IngestServiceTest, CallbacksOfStoredEventsRunOnTheWriterThread) {
  Started();
  Pending p;
  service_->Ingest("test", Events(Valid("alice", "e-1")), p.Callback());
  ASSERT_TRUE(p.Wait());
  EXPECT_NE(p.CalledOn(), std::this_thread::get_id());
}

TEST_F(IngestServiceTest, IngestBeforeStartIsUnavailable) {
  auto& s = Make();
  Pending p;
  s.Ingest("test", Events(Valid("alice", "e-1")), p.Callback());
  ASSERT_TRUE(p.Ready());
  const auto out = p.Wait();
  ASSERT_FALSE(out);
  EXPECT_EQ(out.error().code, base::ErrorCode::kUnavailable);
}

TEST_F(IngestServiceTest, StopStoresEverythingSubmittedBeforeIt) {
  auto options = DefaultOptions();
  options.max_delay = hours(1);  // only Stop can cut this wait short
  auto& s = Started(options);
  Pending a;
  Pending b;
  Pending c;
  s.Ingest("test", Events(Valid("a", "e-1")), a.Callback());
  s.Ingest("test", Events(Valid("b", "e-2"), Valid("b", "e-3")), b.Callback());
  s.Ingest("test", Events(Valid("c", "e-4")), c.Callback());
  s.Stop();
  for (Pending* p : {&a, &b, &c}) {
    ASSERT_TRUE(p->Ready()) << "Stop returned before a submission was answered";
    const auto out = p->Wait();
    ASSERT_TRUE(out) << out.error().message;
    for (const auto& r : *out) EXPECT_EQ(r.outcome, EventOutcome::kStored);
  }
  EXPECT_EQ(IdsOf(store_.Events()), (std::vector<std::string>{"e-1", "e-2", "e-3", "e-4"}));
}

TEST_F(IngestServiceTest, IngestAfterStopIsUnavailable) {
  auto& s = Started();
  s.Stop();
  Pending p;
  s.Ingest("test", Events(Valid("alice", "e-1")), p.Callback());
  ASSERT_TRUE(p.Ready());
  const auto out = p.Wait();
  ASSERT_FALSE(out);
  EXPECT_EQ(out.error().code, base::ErrorCode::kUnavailable);
  EXPECT_TRUE(store_.Events().empty());
  s.Stop();  // idempotent
}

TEST_F(IngestServiceTest, SubmissionsWaitingForTheStoreShareOneAppend) {
  Started();
  store_.BlockNextAppend();
  Pending first;
  service_->Ingest("test", Events(Valid("a", "e-1")), first.Callback());
  ASSERT_TRUE(store_.WaitUntilBlocked());
  Pending b;
  Pending c;
  Pending d;
  service_->Ingest("test", Events(Valid("b", "e-2")), b.Callback());
  service_->Ingest("test", Events(Valid("c", "e-3"), Valid("c", "e-4")), c.Callback());
  service_->Ingest("test", Events(Valid("d", "e-5")), d.Callback());
  EXPECT_FALSE(b.Ready());
  store_.Release();
  for (Pending* p : {&first, &b, &c, &d}) {
    const auto out = p->Wait();
    ASSERT_TRUE(out) << out.error().message;
    for (const auto& r : *out) EXPECT_EQ(r.outcome, EventOutcome::kStored);
  }
  EXPECT_EQ(store_.BatchSizes(), (std::vector<std::size_t>{1, 4}));
  EXPECT_EQ(IdsOf(store_.Events()),
            (std::vector<std::string>{"e-1", "e-2", "e-3", "e-4", "e-5"}));
  EXPECT_EQ(metrics_.batches_stored(), 2u);
  EXPECT_EQ(metrics_.stored(), 5u);
}

TEST_F(IngestServiceTest, GroupCommitDetectsDuplicatesAcrossSubmissions) {
  Started();
  store_.BlockNextAppend();
  Pending first;
  service_->Ingest("test", Events(Valid("a", "e-0")), first.Callback());
  ASSERT_TRUE(store_.WaitUntilBlocked());
  Pending b;
  Pending c;
  service_->Ingest("test", Events(Valid("b", "e-1")), b.Callback());
  service_->Ingest("test", Events(Valid("c", "e-1")), c.Callback());
  store_.Release();
  ASSERT_TRUE(first.Wait());
  const auto out_b = b.Wait();
  const auto out_c = c.Wait();
  ASSERT_TRUE(out_b);
  ASSERT_TRUE(out_c);
  EXPECT_EQ((*out_b)[0].outcome, EventOutcome::kStored);
  EXPECT_EQ((*out_c)[0].outcome, EventOutcome::kDuplicate);
  EXPECT_EQ(store_.BatchSizes(), (std::vector<std::size_t>{1, 1}));
}

TEST_F(IngestServiceTest, BatchesAreBoundedByMaxBatchEvents) {
  auto options = DefaultOptions();
  options.max_batch_events = 2;
  Started(options);
  store_.BlockNextAppend();
  Pending first;
  service_->Ingest("test", Events(Valid("a", "e-1")), first.Callback());
  ASSERT_TRUE(store_.WaitUntilBlocked());
  Pending b;
  Pending c;
  Pending d;
  service_->Ingest("test", Events(Valid("b", "e-2")), b.Callback());
  service_->Ingest("test", Events(Valid("c", "e-3")), c.Callback());
  service_->Ingest("test", Events(Valid("d", "e-4")), d.Callback());
  store_.Release();
  for (Pending* p : {&first, &b, &c, &d}) ASSERT_TRUE(p->Wait());
  EXPECT_EQ(store_.BatchSizes(), (std::vector<std::size_t>{1, 2, 1}));
}

TEST_F(IngestServiceTest, TooManyPendingEventsIsResourceExhausted) {
  auto options = DefaultOptions();
  options.max_pending_events = 3;
  Started(options);
  store_.BlockNextAppend();
  Pending first;
  service_->Ingest("test", Events(Valid("a", "e-1")), first.Callback());
  ASSERT_TRUE(store_.WaitUntilBlocked());

  Pending fits;
  service_->Ingest("test", Events(Valid("b", "e-2"), Valid("b", "e-3")), fits.Callback());
  Pending too_many;
  service_->Ingest("test", Events(Valid("c", "e-4"), Valid("c", "e-5")), too_many.Callback());
  ASSERT_TRUE(too_many.Ready()) << "a refused submission is answered at once";
  const auto refused = too_many.Wait();
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, base::ErrorCode::kResourceExhausted);
  Pending last_slot;
  service_->Ingest("test", Events(Valid("d", "e-6")), last_slot.Callback());
  EXPECT_FALSE(last_slot.Ready());

  store_.Release();
  for (Pending* p : {&first, &fits, &last_slot}) ASSERT_TRUE(p->Wait());
  EXPECT_EQ(IdsOf(store_.Events()), (std::vector<std::string>{"e-1", "e-2", "e-3", "e-6"}));
}

TEST_F(IngestServiceTest, OversizedSubmissionIsAdmittedWhenNothingIsPending) {
  auto options = DefaultOptions();
  options.max_pending_events = 2;
  Started(options);
  const auto out = IngestAndWait(Events(Valid("a", "e-1"), Valid("a", "e-2"), Valid("a", "e-3")));
  ASSERT_TRUE(out) << out.error().message;
  EXPECT_EQ(store_.Events().size(), 3u);
}

TEST_F(IngestServiceTest, MetricsCountWhatHappened) {
  Started();
  ASSERT_TRUE(IngestAndWait(Events(Valid("a", "e-1"), Valid("a", "e-1"),
                                   Rejected("missing_field", "data.userId"))));
  EXPECT_EQ(metrics_.received(), 3u);
  EXPECT_EQ(metrics_.duplicates(), 1u);
  EXPECT_EQ(metrics_.stored(), 1u);
  EXPECT_EQ(metrics_.batches_stored(), 1u);
  EXPECT_EQ(metrics_.batches_failed(), 0u);
  EXPECT_EQ(metrics_.rejected_reasons(), (std::vector<std::string>{"missing_field"}));
}

TEST_F(IngestServiceTest, DedupWindowGrowsWithStoredIds) {
  auto& s = Started();
  EXPECT_EQ(s.DedupWindowSize(), 0u);
  ASSERT_TRUE(IngestAndWait(Events(Valid("a", "e-1"), Valid("b", "e-2"))));
  s.Stop();  // the size is published after the callbacks; Stop waits for the writer
  EXPECT_EQ(s.DedupWindowSize(), 2u);
}

TEST_F(IngestServiceTest, ConcurrentSendersAreAllStored) {
  Started();
  constexpr int kThreads = 4;
  constexpr int kPerThread = 50;
  std::vector<Pending> pending(kThreads * kPerThread);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        const int n = t * kPerThread + i;
        service_->Ingest("test", Events(Valid("u", "e-" + std::to_string(n))),
                         pending[n].Callback());
      }
    });
  }
  for (auto& th : threads) th.join();
  for (auto& p : pending) {
    const auto out = p.Wait();
    ASSERT_TRUE(out);
    EXPECT_EQ((*out)[0].outcome, EventOutcome::kStored);
  }
  EXPECT_EQ(store_.Events().size(), static_cast<std::size_t>(kThreads * kPerThread));
}

}  // namespace
}  // namespace app
