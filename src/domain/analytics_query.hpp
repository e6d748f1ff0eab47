#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/clock.hpp"
#include "base/result.hpp"

namespace date {
class time_zone;
}

namespace domain {

enum class Granularity { kHour, kDay, kWeek, kMonth };
std::string_view GranularityName(Granularity g);

/// The analytics endpoints, one per `GET /api/analytics/<path>`.
enum class Metric {
  kUsersCount,
  kUsersGrowth,
  kUsersByPlan,
  kUsersActive,
  kUsersRetention,
  kChatMessages,
  kChatConversations,
  kChatByProvider,
  kChatTokens,
  kChatAverageSession,
  kRevenueTotal,
  kRevenueMrr,
  kRevenueArr,
  kRevenueByPlan,
  kRevenueChurnRate,
  kProvidersUsage,
  kProvidersCosts,
  kProvidersPopularity,
  kProvidersPerformance,
};

/// What an endpoint accepts; declared once, read by the parser, the router and the tests.
struct MetricSpec {
  Metric metric;
  std::string_view path;  ///< after `/api/analytics/`, e.g. `users/count`
  std::vector<std::string_view> group_by;  ///< allowed `groupBy` values (empty: none)
  bool has_limit = false;
  bool has_buckets = false;  ///< answers with time buckets (the 10,000 limit applies)
  Granularity default_granularity = Granularity::kDay;
};
std::span<const MetricSpec> AllMetrics();
const MetricSpec& SpecOf(Metric metric);

/// A resolved IANA zone. Cheap to copy; the zone database outlives the program.
class TimeZone {
 public:
  /// Fails with kInvalidArgument (field `tz`) for a name the zone database does not know.
  static base::Result<TimeZone> Locate(std::string_view name);
  static TimeZone Utc();

  const std::string& name() const { return name_; }
  /// Offset from UTC at `t`.
  std::chrono::seconds OffsetAt(base::TimePoint t) const;
  /// Start of the bucket holding `t` (local hour, local midnight, Monday 00:00, the 1st 00:00).
  base::TimePoint Floor(base::TimePoint t, Granularity g) const;
  /// Start of the bucket after the one starting at `bucket_start`.
  base::TimePoint Next(base::TimePoint bucket_start, Granularity g) const;
  /// Local midnight starting the calendar day that holds `t`, shifted by `days` days.
  base::TimePoint DayStart(base::TimePoint t, int days = 0) const;
  /// Local midnight of a civil date (carried as the UTC day with the same date).
  base::TimePoint MidnightOf(std::chrono::sys_days civil_date) const;
  /// `2025-03-30T00:00:00+01:00` (seconds precision, the zone's offset at `t`).
  std::string Format(base::TimePoint t) const;

 private:
  TimeZone(std::string name, const date::time_zone* zone) : name_(std::move(name)), zone_(zone) {}
  std::string name_;
  const date::time_zone* zone_;  // null for UTC
};

/// Half-open range `[start, end)`.
struct TimeRange {
  base::TimePoint start;
  base::TimePoint end;
};

/// Aligned bucket starts covering `range`: the first is the start of the bucket holding
/// `range.start`, the last starts before `range.end`. Fails (field `granularity`) past
/// `max_buckets` without materialising them.
base::Result<std::vector<base::TimePoint>> BucketStarts(const TimeRange& range,
                                                        const TimeZone& tz, Granularity g,
                                                        std::size_t max_buckets);

inline constexpr std::size_t kMaxBuckets = 10'000;

/// How large an answer may be. ParseAnalyticsQuery bounds every answer from its parameters
/// alone, before any query runs: a cell is one row of a time series or list (one bucket x one
/// group), or one period of a retention cohort.
struct AnswerLimits {
  std::size_t max_cells = 100'000;
  /// Answers grouped by an open-ended value keep this many groups (the largest by the
  /// endpoint's main measure over the whole range) and fold the rest into one "(other)" group.
  std::size_t max_groups = 50;
};

/// The group name of the folded groups.
inline constexpr std::string_view kOtherGroup = "(other)";

/// One validated analytics request: everything a query needs, nothing protocol-specific.
struct AnalyticsQuery {
  Metric metric = Metric::kUsersCount;
  TimeRange range;
  TimeZone tz = TimeZone::Utc();
  Granularity granularity = Granularity::kDay;
  std::string group_by;  ///< "" or one of the metric's allowed values
  int limit = 10;
  std::vector<base::TimePoint> buckets;  ///< filled for metrics with buckets
  std::size_t max_groups = AnswerLimits{}.max_groups;  ///< groups kept before "(other)"

  /// Canonical text of the request (cache key).
  std::string Key() const;
};

/// Validates query-string parameters for `metric`. Every failure is kInvalidArgument naming the
/// offending parameter in `field`. `now` resolves the default range (the 30 days ending now).
/// An answer whose AnswerCellBound is above `limits.max_cells` is refused (field `granularity`,
/// or `startDate` when the granularity is already `month`).
base::Result<AnalyticsQuery> ParseAnalyticsQuery(Metric metric,
                                                 const std::map<std::string, std::string>& params,
                                                 base::TimePoint now,
                                                 const AnswerLimits& limits = {});

/// Whether the rows of `metric` with `group_by` are per an open-ended value (provider, model,
/// provider x model, plan, currency), whose number only the data knows. `providers/popularity`
/// is not: its own `limit` bounds it.
bool HasOpenEndedGroups(Metric metric, std::string_view group_by);

/// The most cells `query` can answer, from its parameters alone: for a time series, buckets x
/// (`max_groups` + 1) when grouped by an open-ended value, buckets otherwise; n(n+1)/2 for
/// retention over n buckets (cohorts x periods); `limit` + 1 for `providers/popularity`; for a
/// list without buckets, `max_groups` + 1 or 1.
std::size_t AnswerCellBound(const AnalyticsQuery& query);

/// `2025-01-31` (start of that day in `tz`, or the end of it when `is_end`) or a date-time with
/// an offset. Exposed for tests.
std::optional<base::TimePoint> ParseRangeBound(std::string_view text, const TimeZone& tz,
                                               bool is_end);

}  // namespace domain
