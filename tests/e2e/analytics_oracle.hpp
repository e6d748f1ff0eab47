#pragma once

// A reference implementation of the analytics API for black-box tests: plain loops over an
// in-memory list of events, written from the definitions in docs/metrics.md and independent of
// the service's code and SQL. Deliberately naive: every answer is
// recomputed from the deduplicated events, money is kept in exact integer units and rounded only
// in the final answer.

#include <date/tz.h>

#include <boost/json.hpp>
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace e2e::oracle {

using Millis = std::chrono::milliseconds;
/// Exact money and cost arithmetic (GCC's 128-bit integer).
__extension__ typedef __int128 Int128;
/// An instant, epoch milliseconds UTC.
using Instant = date::sys_time<Millis>;

/// The twelve event types, in the order of docs/events.md.
enum class EventType {
  kSignup,
  kSignin,
  kSignout,
  kPlanUpgrade,
  kPlanDowngrade,
  kMessageSent,
  kConversationCreated,
  kConversationDeleted,
  kPaymentSuccess,
  kPaymentFailed,
  kSubscriptionCreated,
  kSubscriptionCancelled,
};

/// "user.signup", ... as sent on the wire.
std::string_view TypeName(EventType type);

/// Decimal units: `amount` in 1e-4 major units, `costUsd` and prices in 1e-9 USD.
inline constexpr int kAmountDecimals = 4;
inline constexpr int kCostDecimals = 9;

/// Parses a non-negative decimal string ("19.99", "5", ".5") into integer units of
/// 10^-decimals, exactly; nullopt if it is malformed or has more significant decimals.
std::optional<std::int64_t> ParseDecimal(std::string_view text, int decimals);
/// Units of 10^-decimals as the shortest exact decimal string ("19.99", "0", "0.000461").
std::string FormatDecimal(std::int64_t units, int decimals);

/// One event as the service receives it, after the decoder's normalisation (tokens filled in
/// from the split when absent, currency upper case). The user id is the raw one: pseudonyms
/// map users one to one, so distinct counts do not change.
struct Event {
  std::string id;
  EventType type = EventType::kSignin;
  std::string user_id;
  Instant timestamp{};
  std::string plan;  // planTier (user.signup) or planId (billing.*)
  std::string from_plan;
  std::string to_plan;
  std::string conversation_id;
  std::string provider;
  std::string model;
  std::int64_t tokens = 0;
  std::optional<std::int64_t> input_tokens;
  std::optional<std::int64_t> output_tokens;
  std::optional<std::int64_t> latency_ms;
  std::optional<std::int64_t> cost_usd;  // 1e-9 USD
  std::int64_t amount = 0;               // 1e-4 major units
  std::string currency;                  // upper case; may be empty on payment_failed
};

/// Billing interval per plan id; plans not listed bill monthly.
struct PlanCatalog {
  std::map<std::string, int> interval_months;
  int IntervalOf(const std::string& plan) const;
};

/// One entry of the model price table; prices in 1e-9 USD per 1M tokens.
struct ModelPrice {
  std::string provider;
  std::string model;
  date::sys_days effective_from;  // applies from 00:00 UTC of this day
  std::optional<std::int64_t> input_per_million;
  std::optional<std::int64_t> output_per_million;
  std::optional<std::int64_t> blended_per_million;
};

enum class Granularity { kHour, kDay, kWeek, kMonth };
std::string_view GranularityName(Granularity g);
std::optional<Granularity> ParseGranularity(std::string_view text);

/// The 19 analytics routes, without the "/api/analytics/" prefix.
const std::vector<std::string>& Endpoints();
/// The groupBy values an endpoint accepts (empty: none).
std::vector<std::string> GroupByValues(std::string_view endpoint);
/// Whether the answer has buckets for this groupBy (time series, retention, groupBy=bucket).
bool HasBuckets(std::string_view endpoint, std::string_view group_by);

/// Start of the bucket holding `t`, aligned in `zone`.
Instant AlignBucket(Instant t, const date::time_zone* zone, Granularity g);
/// Start of the bucket after the one starting at `bucket_start`.
Instant NextBucket(Instant bucket_start, const date::time_zone* zone, Granularity g);
/// Starts of the buckets of [start, end); stops after `max_count + 1` buckets, so callers can
/// check a limit without enumerating a huge range.
std::vector<Instant> BucketStarts(Instant start, Instant end, const date::time_zone* zone,
                                  Granularity g, std::size_t max_count = 1'000'000);

/// "2025-03-30T00:00:00+01:00": the instant in `zone`, seconds precision, with the offset.
std::string FormatInstant(Instant t, const date::time_zone* zone);
/// A startDate / endDate parameter: "YYYY-MM-DD" is local midnight of that day in `zone`
/// (for the end, midnight of the next day: the day is inclusive); a date-time needs an offset.
std::optional<Instant> ResolveDateParam(std::string_view text, const date::time_zone* zone,
                                        bool is_end);

/// One request to the oracle, with the range already resolved.
struct Query {
  std::string endpoint;  // e.g. "users/count"
  Instant start{};       // inclusive
  Instant end{};         // exclusive
  const date::time_zone* zone = nullptr;
  Granularity granularity = Granularity::kDay;
  std::string group_by;  // empty: none
  int limit = 10;        // providers/popularity
};

/// Expected answers computed from a list of events.
///
/// Holds its own copy of the events (deduplicated by id: the first copy wins). Immutable after
/// construction, so `Expect` may be called from several threads.
class Oracle {
 public:
  Oracle(std::vector<Event> events, PlanCatalog plans, std::vector<ModelPrice> prices,
         std::chrono::minutes session_gap = std::chrono::minutes(30));

  /// `{"data": [...]}`, plus `"summary"` on the endpoints that have one, in exactly the
  /// response's shape. Money is a double holding the value rounded to cents, costUsd rounded to
  /// 1e-6. Throws std::invalid_argument for an unknown endpoint or groupBy.
  boost::json::object Expect(const Query& query) const;

  const std::vector<Event>& events() const { return events_; }

 private:
  struct Frame;
  struct BillingState;

  boost::json::object UsersCount(const Frame& f) const;
  boost::json::object UsersGrowth(const Frame& f) const;
  boost::json::object UsersByPlan(const Frame& f) const;
  boost::json::object UsersActive(const Frame& f) const;
  boost::json::object UsersRetention(const Frame& f) const;
  boost::json::object ChatMessages(const Frame& f) const;
  boost::json::object ChatConversations(const Frame& f) const;
  boost::json::object ChatByProvider(const Frame& f) const;
  boost::json::object ChatTokens(const Frame& f) const;
  boost::json::object ChatAverageSession(const Frame& f) const;
  boost::json::object RevenueTotal(const Frame& f) const;
  boost::json::object RevenueMrr(const Frame& f, bool arr) const;
  boost::json::object RevenueByPlan(const Frame& f) const;
  boost::json::object RevenueChurnRate(const Frame& f) const;
  boost::json::object ProvidersUsage(const Frame& f) const;
  boost::json::object ProvidersCosts(const Frame& f) const;
  boost::json::object ProvidersPopularity(const Frame& f) const;
  boost::json::object ProvidersPerformance(const Frame& f) const;

  /// First user.signup per user (smallest timestamp, then id).
  const Event* FirstSignup(const std::string& user) const;
  /// Subscription and payment state of a customer at `t`: after every billing event with a
  /// timestamp strictly before `t`.
  BillingState StateAt(const std::vector<const Event*>& billing, Instant t) const;
  /// Whether the customer's MRR in `currency` was above 0 at any instant before `from` (the
  /// states observable before `from` are those right after each event).
  bool EverAboveZeroBefore(const std::vector<const Event*>& billing, Instant from,
                           const std::string& currency) const;
  /// Cost of a message in 1e-15 USD, or nullopt when it is unpriced.
  std::optional<Int128> CostOf(const Event& message) const;

  std::vector<Event> events_;  // deduplicated, sorted by (timestamp, id)
  PlanCatalog plans_;
  std::vector<ModelPrice> prices_;
  std::chrono::minutes session_gap_;
  std::map<std::string, const Event*> first_signup_;
  std::map<std::string, std::vector<const Event*>> by_user_;  // every event of a user, sorted
  std::map<std::string, std::vector<const Event*>> billing_;  // per customer, sorted
};

}  // namespace e2e::oracle
