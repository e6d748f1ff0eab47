#pragma once

// A scripted AnalyticsStore for unit tests: each read returns the canned rows set by the test
// and counts its calls.

#include <map>
#include <new>
#include <string>

#include "app/ports/analytics_store.hpp"

namespace app::testing {

class FakeAnalyticsStore final : public AnalyticsStore {
 public:
  SignupTotals signups;
  std::vector<BucketCount> signups_by_bucket, active_users;
  std::vector<NamedCount> plans;
  ActiveWindowCounts windows;
  RetentionCounts retention;
  std::vector<ConversationCounts> conversations;
  std::vector<SessionStats> sessions;
  std::vector<MessageTotals> messages;
  MessageGrouping last_grouping;
  std::vector<PaymentTotals> payments;
  PaymentCounts outcomes;
  std::vector<BillingEvent> billing;
  std::vector<CostGroup> cost_groups;
  std::vector<std::int64_t> last_breakpoints;
  std::vector<ModelCount> models;
  std::uint64_t users_outside = 0;
  std::vector<std::pair<std::string, std::string>> last_excluded;
  std::vector<LatencyStats> latencies;
  bool fail = false;
  bool throw_bad_alloc = false;  ///< every read throws std::bad_alloc
  int calls = 0;

  base::Result<SignupTotals> Signups(const domain::TimeRange&) override { return Answer(signups); }
  base::Result<std::vector<BucketCount>> SignupsByBucket(const domain::TimeRange&, const Bucketing&) override {
    return Answer(signups_by_bucket);
  }
  base::Result<std::vector<NamedCount>> PlansAt(base::TimePoint) override { return Answer(plans); }
  base::Result<std::vector<BucketCount>> ActiveUsers(const domain::TimeRange&, const Bucketing&) override {
    return Answer(active_users);
  }
  base::Result<ActiveWindowCounts> ActiveUsersSince(base::TimePoint, base::TimePoint, base::TimePoint,
                                                    base::TimePoint) override {
    return Answer(windows);
  }
  base::Result<RetentionCounts> Retention(const domain::TimeRange&, const Bucketing&) override {
    return Answer(retention);
  }
  base::Result<std::vector<ConversationCounts>> Conversations(const domain::TimeRange&, const Bucketing&) override {
    return Answer(conversations);
  }
  base::Result<std::vector<SessionStats>> Sessions(const domain::TimeRange&, const Bucketing&,
                                                   std::chrono::milliseconds) override {
    return Answer(sessions);
  }
  base::Result<std::vector<MessageTotals>> Messages(const domain::TimeRange&, const MessageGrouping& g) override {
    last_grouping = g;
    return Answer(messages);
  }
  base::Result<std::vector<PaymentTotals>> Payments(const domain::TimeRange&, bool) override {
    return Answer(payments);
  }
  base::Result<PaymentCounts> PaymentOutcomes(const domain::TimeRange&) override { return Answer(outcomes); }
  base::Result<std::vector<BillingEvent>> BillingHistory(base::TimePoint) override { return Answer(billing); }
  base::Result<std::vector<CostGroup>> CostGroups(const domain::TimeRange&, const Bucketing&,
                                                  const std::vector<std::int64_t>& breakpoints) override {
    last_breakpoints = breakpoints;
    return Answer(cost_groups);
  }
  base::Result<std::vector<ModelCount>> ModelUsage(const domain::TimeRange&) override { return Answer(models); }
  base::Result<std::uint64_t> UsersOutside(const domain::TimeRange&,
                                           const std::vector<std::pair<std::string, std::string>>& excluded) override {
    last_excluded = excluded;
    return Answer(users_outside);
  }
  base::Result<std::vector<LatencyStats>> Latencies(const domain::TimeRange&, bool) override {
    return Answer(latencies);
  }

 private:
  template <typename T>
  base::Result<T> Answer(const T& value) {
    ++calls;
    if (throw_bad_alloc) throw std::bad_alloc();
    if (fail) return base::Fail(base::Error::Unavailable("storage down"));
    return value;
  }
};

}  // namespace app::testing
