#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/clock.hpp"
#include "base/result.hpp"
#include "domain/analytics_query.hpp"
#include "domain/decimal.hpp"

namespace app {

/// Exact decimal money: an integer count of 1e-`scale` units (amounts scale 4, costs scale 9).
using Units = domain::Int128;

/// How rows are bucketed in a read: by the aligned bucket start in `tz` (`bucket_ms` of the
/// answer rows is that instant in epoch ms), or not at all.
struct Bucketing {
  domain::Granularity granularity = domain::Granularity::kDay;
  const domain::TimeZone* tz = nullptr;  ///< null: no buckets
};

struct BucketCount {
  std::int64_t bucket_ms = 0;
  std::uint64_t count = 0;
};

struct NamedCount {
  std::string name;
  std::uint64_t count = 0;
};

struct SignupTotals {
  std::uint64_t total_before_end = 0;  ///< users whose first signup is before the range end
  std::uint64_t new_in_range = 0;      ///< ... and whose first signup is inside the range
};

struct ActiveWindowCounts {
  std::uint64_t day = 0, week = 0, month = 0;
};

struct RetentionCounts {
  std::vector<BucketCount> cohort_sizes;  ///< by the bucket of each user's first signup
  struct Cell {
    std::int64_t cohort_ms = 0;
    std::int64_t bucket_ms = 0;
    std::uint64_t users = 0;
  };
  std::vector<Cell> active;  ///< cohort members active per bucket
};

struct ConversationCounts {
  std::int64_t bucket_ms = 0;
  std::uint64_t created = 0, deleted = 0;
};

/// Sessions starting in one bucket; `bucket_ms` is nullopt for the row over the whole range.
struct SessionStats {
  std::optional<std::int64_t> bucket_ms;
  std::uint64_t sessions = 0;
  std::int64_t total_duration_ms = 0;
  double median_duration_ms = 0;
};

/// Which fields chat.message_sent rows are grouped by and which distinct counts are wanted.
struct MessageGrouping {
  Bucketing bucketing;
  bool by_provider = false;
  bool by_model = false;
  bool distinct_users = false;
  bool distinct_conversations = false;
};

struct MessageTotals {
  std::int64_t bucket_ms = 0;
  std::string provider, model;
  std::uint64_t messages = 0, tokens = 0;
  std::uint64_t input_tokens = 0, output_tokens = 0;  ///< over messages carrying the split
  std::uint64_t users = 0, conversations = 0;
};

struct PaymentTotals {
  std::string plan;  ///< empty unless grouped by plan
  std::string currency;
  Units amount = 0;  ///< scale 4
  std::uint64_t payments = 0;
};

struct PaymentCounts {
  std::uint64_t succeeded = 0, failed = 0;
};

/// One deduplicated billing event of a customer, for the subscription state machine.
struct BillingEvent {
  enum class Kind { kPayment, kSubscribed, kCancelled };
  std::string customer;
  Kind kind = Kind::kPayment;
  std::int64_t ts_ms = 0;
  std::string plan;
  std::string currency;
  Units amount = 0;  ///< scale 4, payments only
};

/// Messages of one (bucket, provider, model, price epoch) group that share how they are priced.
struct CostGroup {
  std::int64_t bucket_ms = 0;
  std::string provider, model;
  std::size_t epoch = 0;  ///< index of the last breakpoint at or before the messages (0: before all)
  bool has_cost = false;  ///< the messages carry costUsd
  bool has_split = false; ///< the messages carry inputTokens and outputTokens
  std::uint64_t messages = 0;
  Units cost = 0;  ///< sum of costUsd, scale 9
  std::uint64_t tokens = 0, input_tokens = 0, output_tokens = 0;
};

struct ModelCount {
  std::string provider, model;
  std::uint64_t messages = 0, users = 0;
};

struct LatencyStats {
  std::string provider, model;
  std::uint64_t messages = 0;
  double avg_ms = 0, p50_ms = 0, p95_ms = 0, p99_ms = 0;
};

/// The named reads behind the analytics API. Every read counts each event id once and only
/// events with timestamps inside the given half-open range, unless stated. Implementations run
/// them as ClickHouse SQL (embedded or server). Thread-safe; errors are kUnavailable/kInternal.
class AnalyticsStore {
 public:
  virtual ~AnalyticsStore() = default;

  virtual base::Result<SignupTotals> Signups(const domain::TimeRange& range) = 0;
  /// First signups per bucket inside the range, plus one row with bucket_ms 0 holding the users
  /// whose first signup is before the range.
  virtual base::Result<std::vector<BucketCount>> SignupsByBucket(const domain::TimeRange& range,
                                                                 const Bucketing& b) = 0;
  /// Signed-up users by their plan just before `end`.
  virtual base::Result<std::vector<NamedCount>> PlansAt(base::TimePoint end) = 0;
  virtual base::Result<std::vector<BucketCount>> ActiveUsers(const domain::TimeRange& range,
                                                             const Bucketing& b) = 0;
  /// Distinct active users in [day_start, end), [week_start, end), [month_start, end).
  virtual base::Result<ActiveWindowCounts> ActiveUsersSince(base::TimePoint day_start,
                                                            base::TimePoint week_start,
                                                            base::TimePoint month_start,
                                                            base::TimePoint end) = 0;
  virtual base::Result<RetentionCounts> Retention(const domain::TimeRange& range,
                                                  const Bucketing& b) = 0;
  virtual base::Result<std::vector<ConversationCounts>> Conversations(
      const domain::TimeRange& range, const Bucketing& b) = 0;
  /// Per bucket of session start, plus the row over the range.
  virtual base::Result<std::vector<SessionStats>> Sessions(const domain::TimeRange& range,
                                                           const Bucketing& b,
                                                           std::chrono::milliseconds gap) = 0;
  virtual base::Result<std::vector<MessageTotals>> Messages(const domain::TimeRange& range,
                                                            const MessageGrouping& g) = 0;
  virtual base::Result<std::vector<PaymentTotals>> Payments(const domain::TimeRange& range,
                                                            bool by_plan) = 0;
  virtual base::Result<PaymentCounts> PaymentOutcomes(const domain::TimeRange& range) = 0;
  /// Every payment_success, subscription_created and subscription_cancelled before `end`, of
  /// all time, grouped by customer, each customer's events ordered by (timestamp, event id).
  virtual base::Result<std::vector<BillingEvent>> BillingHistory(base::TimePoint end) = 0;
  /// Messages grouped by (bucket, provider, model, price epoch, has cost, has split) for
  /// pricing; `breakpoints` (ascending epoch ms) split time into price epochs.
  virtual base::Result<std::vector<CostGroup>> CostGroups(
      const domain::TimeRange& range, const Bucketing& b,
      const std::vector<std::int64_t>& breakpoints) = 0;
  /// Messages and distinct users per (provider, model).
  virtual base::Result<std::vector<ModelCount>> ModelUsage(const domain::TimeRange& range) = 0;
  /// Distinct users of messages to any (provider, model) not in `excluded`.
  virtual base::Result<std::uint64_t> UsersOutside(
      const domain::TimeRange& range,
      const std::vector<std::pair<std::string, std::string>>& excluded) = 0;
  /// Over messages carrying latencyMs.
  virtual base::Result<std::vector<LatencyStats>> Latencies(const domain::TimeRange& range,
                                                            bool by_model) = 0;
};

}  // namespace app
