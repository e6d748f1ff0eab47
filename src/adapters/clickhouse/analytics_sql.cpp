#include "adapters/clickhouse/analytics_sql.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>

#include "base/log.hpp"
#include "domain/decimal.hpp"

namespace adapters::clickhouse {
namespace {

constexpr std::string_view kActiveTypes =
    "event_type IN ('user.signup', 'user.signin', 'user.signout', 'user.plan_upgrade', "
    "'user.plan_downgrade', 'chat.message_sent', 'chat.conversation_created', "
    "'chat.conversation_deleted')";
constexpr std::string_view kMessageType = "event_type = 'chat.message_sent'";
constexpr std::string_view kSplit = "(input_tokens IS NOT NULL AND output_tokens IS NOT NULL)";

std::int64_t Ms(base::TimePoint t) { return t.time_since_epoch().count(); }

// Floor/ceil to whole seconds so the coarse `ts` (seconds) condition never drops a row that the
// exact `ts_ms` condition keeps.
std::int64_t FloorSec(std::int64_t ms) { return ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000); }
std::int64_t CeilSec(std::int64_t ms) { return -FloorSec(-ms); }

// Conditions selecting timestamps in [start_ms, end_ms). `ts` (seconds, in the primary key)
// prunes partitions and granules; `ts_ms` is read only for a bound with a fraction of a second,
// because reading it costs more than the rest of a simple count.
std::string InRange(std::int64_t start_ms, std::int64_t end_ms) {
  std::string out = fmt::format("ts >= toDateTime({}, 'UTC') AND ts < toDateTime({}, 'UTC')",
                                std::max<std::int64_t>(0, FloorSec(start_ms)), CeilSec(end_ms));
  if (start_ms % 1000 != 0) out += fmt::format(" AND ts_ms >= {}", start_ms);
  if (end_ms % 1000 != 0) out += fmt::format(" AND ts_ms < {}", end_ms);
  return out;
}
std::string AtOrAfter(std::int64_t ms) {
  return ms % 1000 == 0 ? fmt::format("ts >= toDateTime({}, 'UTC')", FloorSec(ms))
                        : fmt::format("ts_ms >= {}", ms);
}
std::string Before(std::int64_t end_ms) {
  std::string out = fmt::format("ts < toDateTime({}, 'UTC')", CeilSec(end_ms));
  if (end_ms % 1000 != 0) out += fmt::format(" AND ts_ms < {}", end_ms);
  return out;
}

// The deduplicated events of `types` with timestamps in [start, end).
std::string From(std::string_view db, std::string_view types, std::int64_t start_ms,
                 std::int64_t end_ms) {
  return fmt::format("FROM `{}`.events FINAL WHERE {} AND {}", db, types, InRange(start_ms, end_ms));
}
std::string From(std::string_view db, std::string_view types, const domain::TimeRange& r) {
  return From(db, types, Ms(r.start), Ms(r.end));
}
std::string FromBefore(std::string_view db, std::string_view types, base::TimePoint end) {
  return fmt::format("FROM `{}`.events FINAL WHERE {} AND {}", db, types, Before(Ms(end)));
}

// The deduplicated events of `types` with timestamps in any of `ranges`.
std::string FromRanges(std::string_view db, std::string_view types,
                       std::span<const app::MsRange> ranges) {
  std::vector<std::string> any;
  any.reserve(ranges.size());
  for (const auto& r : ranges) any.push_back(fmt::format("({})", InRange(r.start, r.end)));
  return fmt::format("FROM `{}`.events FINAL WHERE {} AND ({})", db, types,
                     any.empty() ? std::string("0") : fmt::format("{}", fmt::join(any, " OR ")));
}

// The rollup slot of a row (app::SlotOf; stored timestamps are after 1970).
constexpr std::string_view kSlot = "intDiv(ts_ms, 900000)";

// Users with their first signup before `end` (user_key, f = first signup ms).
std::string FirstSignups(std::string_view db, base::TimePoint end) {
  return fmt::format("(SELECT user_key, min(ts_ms) AS f {} GROUP BY user_key)",
                     FromBefore(db, "event_type = 'user.signup'", end));
}

std::string MsToDateTime(std::string_view ms_expr) {
  return fmt::format("toDateTime(intDiv({}, 1000), 'UTC')", ms_expr);
}

template <typename T>
bool ToNumber(std::string_view text, T& out) {
  if constexpr (std::is_floating_point_v<T>) {
    if (text == "nan" || text == "inf" || text == "-inf") return false;
  }
  const auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc{} && p == text.data() + text.size();
}

base::Error BadAnswer(std::string_view what) {
  return base::Error::Internal(fmt::format("unexpected answer from storage: {}", what));
}

// Reads column `i` of `row` as a number, recording the first failure in `ok`.
struct Reader {
  const std::vector<std::string>& row;
  bool ok = true;
  template <typename T>
  T Num(std::size_t i) {
    T value{};
    if (!ToNumber(row[i], value)) ok = false;
    return value;
  }
  const std::string& Str(std::size_t i) const { return row[i]; }
  app::Units Money(std::size_t i, int scale) {
    auto u = ParseUnits(row[i], scale);
    if (!u) {
      ok = false;
      return 0;
    }
    return *u;
  }
};

}  // namespace

namespace sql {

std::string Quote(std::string_view text) {
  std::string out = "'";
  for (const char c : text) {
    if (c == '\'' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  out.push_back('\'');
  return out;
}

std::string BucketOf(std::string_view dt, const app::Bucketing& b) {
  if (b.tz == nullptr) return "toInt64(0)";
  const auto tz = Quote(b.tz->name());
  std::string start;
  switch (b.granularity) {
    case domain::Granularity::kHour: start = fmt::format("toStartOfHour({}, {})", dt, tz); break;
    case domain::Granularity::kDay: start = fmt::format("toStartOfDay({}, {})", dt, tz); break;
    // toMonday and toStartOfMonth give a Date: its midnight in the zone is the bucket start.
    case domain::Granularity::kWeek:
      start = fmt::format("toDateTime(toMonday({}, {}), {})", dt, tz, tz);
      break;
    case domain::Granularity::kMonth:
      start = fmt::format("toDateTime(toStartOfMonth({}, {}), {})", dt, tz, tz);
      break;
  }
  return fmt::format("(toInt64(toUnixTimestamp({})) * 1000)", start);
}

std::string Signups(std::string_view db, const domain::TimeRange& r) {
  return fmt::format("SELECT countIf(f >= {}), count() FROM {}", Ms(r.start),
                     FirstSignups(db, r.end));
}

std::string SignupsByBucket(std::string_view db, const domain::TimeRange& r,
                            const app::Bucketing& b) {
  return fmt::format("SELECT if(f < {}, toInt64(0), {}) AS b, count() FROM {} GROUP BY b ORDER BY b",
                     Ms(r.start), BucketOf(MsToDateTime("f"), b), FirstSignups(db, r.end));
}

std::string PlansAt(std::string_view db, base::TimePoint end) {
  return fmt::format(
      "SELECT if(changes > 0, changed_to, signup_plan) AS p, count() FROM ("
      "SELECT user_key, "
      "argMinIf(plan, (ts_ms, event_id), event_type = 'user.signup') AS signup_plan, "
      "argMaxIf(to_plan, (ts_ms, event_id), event_type != 'user.signup') AS changed_to, "
      "countIf(event_type = 'user.signup') AS signups, "
      "countIf(event_type != 'user.signup') AS changes {} GROUP BY user_key HAVING signups > 0"
      ") GROUP BY p ORDER BY p",
      FromBefore(db,
                 "event_type IN ('user.signup', 'user.plan_upgrade', 'user.plan_downgrade')",
                 end));
}

std::string ActiveUsers(std::string_view db, const domain::TimeRange& r, const app::Bucketing& b) {
  return fmt::format("SELECT {} AS b, uniqExact(user_key) {} GROUP BY b ORDER BY b",
                     BucketOf("ts", b), From(db, kActiveTypes, r));
}

std::string ActiveUsersSince(std::string_view db, base::TimePoint day, base::TimePoint week,
                             base::TimePoint month, base::TimePoint end) {
  return fmt::format(
      "SELECT uniqExactIf(user_key, {}), uniqExactIf(user_key, {}), uniqExact(user_key) {}",
      AtOrAfter(Ms(day)), AtOrAfter(Ms(week)), From(db, kActiveTypes, Ms(month), Ms(end)));
}

std::string RetentionCohorts(std::string_view db, const domain::TimeRange& r,
                             const app::Bucketing& b) {
  return fmt::format("SELECT {} AS c, count() FROM {} WHERE f >= {} GROUP BY c ORDER BY c",
                     BucketOf(MsToDateTime("f"), b), FirstSignups(db, r.end), Ms(r.start));
}

std::string RetentionActivity(std::string_view db, const domain::TimeRange& r,
                              const app::Bucketing& b) {
  // ALL INNER JOIN: the strictness keyword is required by older servers.
  return fmt::format(
      "SELECT c, b, count() FROM "
      "(SELECT user_key, {} AS c FROM {} WHERE f >= {}) AS cohort "
      "ALL INNER JOIN "
      "(SELECT DISTINCT user_key, {} AS b {} AND user_key IN "
      "(SELECT user_key FROM {} WHERE f >= {})) AS activity USING user_key "
      "GROUP BY c, b ORDER BY c, b",
      BucketOf(MsToDateTime("f"), b), FirstSignups(db, r.end), Ms(r.start), BucketOf("ts", b),
      From(db, kActiveTypes, r), FirstSignups(db, r.end), Ms(r.start));
}

std::string Conversations(std::string_view db, const domain::TimeRange& r,
                          const app::Bucketing& b) {
  return fmt::format(
      "SELECT {} AS b, countIf(event_type = 'chat.conversation_created'), "
      "countIf(event_type = 'chat.conversation_deleted') {} GROUP BY b ORDER BY b",
      BucketOf("ts", b),
      From(db, "event_type IN ('chat.conversation_created', 'chat.conversation_deleted')", r));
}

std::string Sessions(std::string_view db, const domain::TimeRange& r, const app::Bucketing& b,
                     std::chrono::milliseconds gap) {
  // Per user: sorted activity times; a session starts at the first time and after every gap
  // longer than `gap`, and ends at the last time before the next start (linear array passes:
  // `d` is each time's gap from the previous one, `nd` the gap to the next, with a sentinel).
  // Each session is counted in the bucket of its start and in the total (g = -1).
  const auto g = gap.count();
  return fmt::format(
      "SELECT g, n, total, "
      "if(n % 2 = 1, toFloat64(s[intDiv(n, 2) + 1]), (s[intDiv(n, 2)] + s[intDiv(n, 2) + 1]) / 2) "
      "FROM ("
      " SELECT g, count() AS n, sum(d) AS total, arraySort(groupArray(d)) AS s FROM ("
      "  SELECT en - st AS d, arrayJoin([{bucket}, toInt64(-1)]) AS g FROM ("
      "   SELECT arraySort(groupArray(ts_ms)) AS t, arrayDifference(t) AS gaps, "
      "    arrayPushBack(arrayPopFront(gaps), toInt64({g} + 1)) AS next_gaps, "
      "    arrayFilter((x, d, i) -> i = 1 OR d > {g}, t, gaps, arrayEnumerate(t)) AS starts, "
      "    arrayFilter((x, nd) -> nd > {g}, t, next_gaps) AS ends "
      "   {from} GROUP BY user_key"
      "  ) ARRAY JOIN starts AS st, ends AS en"
      " ) GROUP BY g"
      ") ORDER BY g",
      fmt::arg("g", g), fmt::arg("from", From(db, kActiveTypes, r)),
      fmt::arg("bucket", BucketOf(MsToDateTime("st"), b)));
}

std::string Messages(std::string_view db, const domain::TimeRange& r,
                     const app::MessageGrouping& g) {
  return fmt::format(
      "SELECT {} AS b, {} AS p, {} AS m, count(), sum(tokens), "
      "sumIf(assumeNotNull(input_tokens), {split}), sumIf(assumeNotNull(output_tokens), {split}), "
      "{}, {} {} GROUP BY b, p, m ORDER BY b, p, m",
      BucketOf("ts", g.bucketing), g.by_provider ? "provider" : "''", g.by_model ? "model" : "''",
      g.distinct_users ? "uniqExact(user_key)" : "0",
      g.distinct_conversations ? "uniqExact(conversation_key)" : "0",
      From(db, kMessageType, r), fmt::arg("split", kSplit));
}

std::string Payments(std::string_view db, const domain::TimeRange& r, bool by_plan) {
  return fmt::format(
      "SELECT {} AS p, currency, toString(sum(amount)), count() {} GROUP BY p, currency "
      "ORDER BY p, currency",
      by_plan ? "plan" : "''", From(db, "event_type = 'billing.payment_success'", r));
}

std::string PaymentOutcomes(std::string_view db, const domain::TimeRange& r) {
  return fmt::format(
      "SELECT countIf(event_type = 'billing.payment_success'), "
      "countIf(event_type = 'billing.payment_failed') {}",
      From(db, "event_type IN ('billing.payment_success', 'billing.payment_failed')", r));
}

std::string BillingHistory(std::string_view db, base::TimePoint end) {
  return fmt::format(
      "SELECT user_id, toInt8(event_type), ts_ms, plan, currency, toString(amount) {} "
      "ORDER BY user_id, ts_ms, event_id",
      FromBefore(db,
                 "event_type IN ('billing.payment_success', 'billing.subscription_created', "
                 "'billing.subscription_cancelled')",
                 end));
}

std::string CostGroups(std::string_view db, const domain::TimeRange& r, const app::Bucketing& b,
                       const std::vector<std::int64_t>& breakpoints) {
  std::string epoch = "toUInt64(0)";
  if (!breakpoints.empty()) {
    epoch = fmt::format("toUInt64(arrayCount(x -> x <= ts_ms, [{}]))", fmt::join(breakpoints, ", "));
  }
  return fmt::format(
      "SELECT {} AS b, provider, model, {} AS e, cost_usd IS NOT NULL AS hc, {} AS hs, count(), "
      "toString(sumIf(assumeNotNull(cost_usd), cost_usd IS NOT NULL)), sum(tokens), "
      "sumIf(assumeNotNull(input_tokens), hs), sumIf(assumeNotNull(output_tokens), hs) {} "
      "GROUP BY b, provider, model, e, hc, hs ORDER BY b, provider, model, e, hc, hs",
      BucketOf("ts", b), epoch, kSplit, From(db, kMessageType, r));
}

std::string ModelUsage(std::string_view db, const domain::TimeRange& r) {
  return fmt::format(
      "SELECT provider, model, count(), uniqExact(user_key) {} GROUP BY provider, model "
      "ORDER BY provider, model",
      From(db, kMessageType, r));
}

std::string UsersOutside(std::string_view db, const domain::TimeRange& r,
                         const std::vector<std::pair<std::string, std::string>>& excluded) {
  std::string condition;
  if (!excluded.empty()) {
    std::vector<std::string> pairs;
    pairs.reserve(excluded.size());
    for (const auto& [p, m] : excluded) pairs.push_back(fmt::format("({}, {})", Quote(p), Quote(m)));
    condition = fmt::format(" AND (provider, model) NOT IN ({})", fmt::join(pairs, ", "));
  }
  return fmt::format("SELECT uniqExact(user_key) {}{}", From(db, kMessageType, r), condition);
}

std::string Latencies(std::string_view db, const domain::TimeRange& r, bool by_model) {
  return fmt::format(
      "SELECT provider, m, n, a, q[1], q[2], q[3] FROM ("
      "SELECT provider, {} AS m, count() AS n, avg(assumeNotNull(latency_ms)) AS a, "
      "quantilesExact(0.5, 0.95, 0.99)(assumeNotNull(latency_ms)) AS q "
      "{} AND latency_ms IS NOT NULL GROUP BY provider, m) ORDER BY provider, m",
      by_model ? "model" : "''", From(db, kMessageType, r));
}

std::string SlotActivity(std::string_view db, std::span<const app::MsRange> ranges) {
  return fmt::format(
      "SELECT {} AS s, user_key, min(ts_ms), max(ts_ms) {} GROUP BY s, user_key",
      kSlot, FromRanges(db, kActiveTypes, ranges));
}

std::string SlotPriced(std::string_view db, std::span<const app::MsRange> ranges) {
  return fmt::format(
      "SELECT {} AS s, provider, model, cost_usd IS NOT NULL AS hc, {} AS hs, count(), "
      "sum(tokens), sumIf(assumeNotNull(input_tokens), hs), sumIf(assumeNotNull(output_tokens), hs), "
      "toString(sumIf(assumeNotNull(cost_usd), hc)) {} GROUP BY s, provider, model, hc, hs",
      kSlot, kSplit, FromRanges(db, kMessageType, ranges));
}

std::string SlotAudience(std::string_view db, std::span<const app::MsRange> ranges) {
  return fmt::format(
      "SELECT {} AS s, provider, model, groupUniqArray(user_key), groupUniqArray(conversation_key) "
      "{} GROUP BY s, provider, model",
      kSlot, FromRanges(db, kMessageType, ranges));
}

std::string SlotLatency(std::string_view db, std::span<const app::MsRange> ranges) {
  // The bins of app::LatencyBin: one per ms below 128 ms, then 1% wide.
  return fmt::format(
      "SELECT s, provider, model, sum(total), groupArray(bin), groupArray(n) FROM ("
      "SELECT {} AS s, provider, model, "
      "if(assumeNotNull(latency_ms) < 128, toUInt32(assumeNotNull(latency_ms)), "
      "toUInt32(128 + floor(log(assumeNotNull(latency_ms) / 128) / log(1.01)))) AS bin, "
      "count() AS n, sum(assumeNotNull(latency_ms)) AS total {} AND latency_ms IS NOT NULL "
      "GROUP BY s, provider, model, bin"
      ") GROUP BY s, provider, model",
      kSlot, FromRanges(db, kMessageType, ranges));
}

std::string StoredSpan(std::string_view db) {
  return fmt::format("SELECT count(), min(ts_ms), max(ts_ms) FROM `{}`.events", db);
}

std::string SlotRecords(std::string_view db, std::span<const app::MsRange> ranges) {
  return fmt::format(
      "SELECT {} AS s, toInt8(event_type), user_key, if(event_type IN ({billing}), user_id, ''), "
      "ts_ms, event_id, if(event_type IN ('user.plan_upgrade', 'user.plan_downgrade'), to_plan, "
      "plan), currency, toString(amount) {}",
      kSlot,
      FromRanges(db,
                 "event_type IN ('user.signup', 'user.plan_upgrade', 'user.plan_downgrade', "
                 "'billing.payment_success', 'billing.payment_failed', "
                 "'billing.subscription_created', 'billing.subscription_cancelled')",
                 ranges),
      fmt::arg("billing",
               "'billing.payment_success', 'billing.payment_failed', "
               "'billing.subscription_created', 'billing.subscription_cancelled'"));
}

std::string SlotConversations(std::string_view db, std::span<const app::MsRange> ranges) {
  return fmt::format(
      "SELECT {} AS s, countIf(event_type = 'chat.conversation_created'), "
      "countIf(event_type = 'chat.conversation_deleted') {} GROUP BY s",
      kSlot,
      FromRanges(db, "event_type IN ('chat.conversation_created', 'chat.conversation_deleted')",
                 ranges));
}

}  // namespace sql

std::vector<std::vector<std::string>> ParseTsv(std::string_view tsv) {
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> row;
  std::string field;
  bool any = false;
  for (std::size_t i = 0; i < tsv.size(); ++i) {
    const char c = tsv[i];
    if (c == '\\' && i + 1 < tsv.size()) {
      const char n = tsv[++i];
      switch (n) {
        case 't': field.push_back('\t'); break;
        case 'n': field.push_back('\n'); break;
        case 'r': field.push_back('\r'); break;
        case '0': field.push_back('\0'); break;
        case 'b': field.push_back('\b'); break;
        case 'f': field.push_back('\f'); break;
        case 'N': field += "\\N"; break;
        default: field.push_back(n); break;
      }
      any = true;
    } else if (c == '\t') {
      row.push_back(std::move(field));
      field.clear();
      any = true;
    } else if (c == '\n') {
      row.push_back(std::move(field));
      field.clear();
      rows.push_back(std::move(row));
      row.clear();
      any = false;
    } else {
      field.push_back(c);
      any = true;
    }
  }
  if (any) {
    row.push_back(std::move(field));
    rows.push_back(std::move(row));
  }
  return rows;
}

base::Result<app::Units> ParseUnits(std::string_view text, int scale) {
  const auto value = domain::ParseDecimal(text, scale);
  if (!value) return base::Fail(BadAnswer(fmt::format("decimal '{}'", text)));
  return *value;
}

std::string ReadSettings(const ReadLimits& limits) {
  return fmt::format(" SETTINGS max_execution_time = {}, max_memory_usage = {}",
                     limits.max_execution_time.count(), limits.max_memory_bytes);
}

base::Result<std::vector<std::vector<std::string>>> ClickHouseAnalyticsStore::Rows(
    const std::string& sql, std::size_t columns) {
  auto answer = execute_(sql + settings_, "TabSeparated");
  if (!answer) {
    // The engine's message quotes the SQL: it goes to the log, not to the client. An engine
    // exception is a bug to fix (500), except running out of time or memory, which a retry
    // later may not meet (503); storage that is closed or gone stays unavailable.
    const auto& message = answer.error().message;
    base::log::Error("analytics.query_failed", {{"error", message}});
    const bool engine_exception = message.find("Code: ") != std::string::npos;
    const bool resources = message.find("Code: 159.") != std::string::npos ||  // timeout
                           message.find("Code: 241.") != std::string::npos;    // memory limit
    const bool unavailable = answer.error().code == base::ErrorCode::kUnavailable &&
                             (!engine_exception || resources);
    return base::Fail(base::Error{unavailable ? base::ErrorCode::kUnavailable : base::ErrorCode::kInternal,
                                  "the analytics query failed; the service log has the details",
                                  {}});
  }
  auto rows = ParseTsv(*answer);
  for (const auto& row : rows) {
    if (row.size() != columns) {
      return base::Fail(BadAnswer(fmt::format("{} columns instead of {}", row.size(), columns)));
    }
  }
  return rows;
}

#define ANALYTICS_ROWS(var, sql_text, columns)          \
  auto var = Rows(sql_text, columns);                   \
  if (!var) return base::Fail(var.error());

base::Result<app::SignupTotals> ClickHouseAnalyticsStore::Signups(const domain::TimeRange& range) {
  ANALYTICS_ROWS(rows, sql::Signups(db_, range), 2);
  if (rows->size() != 1) return base::Fail(BadAnswer("signups"));
  Reader r{rows->front()};
  app::SignupTotals out{r.Num<std::uint64_t>(1), r.Num<std::uint64_t>(0)};
  if (!r.ok) return base::Fail(BadAnswer("signups"));
  return out;
}

namespace {
base::Result<std::vector<app::BucketCount>> BucketCounts(
    const std::vector<std::vector<std::string>>& rows) {
  std::vector<app::BucketCount> out;
  for (const auto& row : rows) {
    Reader r{row};
    out.push_back({r.Num<std::int64_t>(0), r.Num<std::uint64_t>(1)});
    if (!r.ok) return base::Fail(BadAnswer("bucket counts"));
  }
  return out;
}
}  // namespace

base::Result<std::vector<app::BucketCount>> ClickHouseAnalyticsStore::SignupsByBucket(
    const domain::TimeRange& range, const app::Bucketing& b) {
  ANALYTICS_ROWS(rows, sql::SignupsByBucket(db_, range, b), 2);
  return BucketCounts(*rows);
}

base::Result<std::vector<app::NamedCount>> ClickHouseAnalyticsStore::PlansAt(base::TimePoint end) {
  ANALYTICS_ROWS(rows, sql::PlansAt(db_, end), 2);
  std::vector<app::NamedCount> out;
  for (const auto& row : *rows) {
    Reader r{row};
    out.push_back({r.Str(0), r.Num<std::uint64_t>(1)});
    if (!r.ok) return base::Fail(BadAnswer("plans"));
  }
  return out;
}

base::Result<std::vector<app::BucketCount>> ClickHouseAnalyticsStore::ActiveUsers(
    const domain::TimeRange& range, const app::Bucketing& b) {
  ANALYTICS_ROWS(rows, sql::ActiveUsers(db_, range, b), 2);
  return BucketCounts(*rows);
}

base::Result<app::ActiveWindowCounts> ClickHouseAnalyticsStore::ActiveUsersSince(
    base::TimePoint day_start, base::TimePoint week_start, base::TimePoint month_start,
    base::TimePoint end) {
  ANALYTICS_ROWS(rows, sql::ActiveUsersSince(db_, day_start, week_start, month_start, end), 3);
  if (rows->size() != 1) return base::Fail(BadAnswer("active windows"));
  Reader r{rows->front()};
  app::ActiveWindowCounts out{r.Num<std::uint64_t>(0), r.Num<std::uint64_t>(1),
                              r.Num<std::uint64_t>(2)};
  if (!r.ok) return base::Fail(BadAnswer("active windows"));
  return out;
}

base::Result<app::RetentionCounts> ClickHouseAnalyticsStore::Retention(
    const domain::TimeRange& range, const app::Bucketing& b) {
  ANALYTICS_ROWS(cohorts, sql::RetentionCohorts(db_, range, b), 2);
  ANALYTICS_ROWS(cells, sql::RetentionActivity(db_, range, b), 3);
  app::RetentionCounts out;
  auto sizes = BucketCounts(*cohorts);
  if (!sizes) return base::Fail(sizes.error());
  out.cohort_sizes = std::move(*sizes);
  for (const auto& row : *cells) {
    Reader r{row};
    out.active.push_back({r.Num<std::int64_t>(0), r.Num<std::int64_t>(1), r.Num<std::uint64_t>(2)});
    if (!r.ok) return base::Fail(BadAnswer("retention"));
  }
  return out;
}

base::Result<std::vector<app::ConversationCounts>> ClickHouseAnalyticsStore::Conversations(
    const domain::TimeRange& range, const app::Bucketing& b) {
  ANALYTICS_ROWS(rows, sql::Conversations(db_, range, b), 3);
  std::vector<app::ConversationCounts> out;
  for (const auto& row : *rows) {
    Reader r{row};
    out.push_back({r.Num<std::int64_t>(0), r.Num<std::uint64_t>(1), r.Num<std::uint64_t>(2)});
    if (!r.ok) return base::Fail(BadAnswer("conversations"));
  }
  return out;
}

base::Result<std::vector<app::SessionStats>> ClickHouseAnalyticsStore::Sessions(
    const domain::TimeRange& range, const app::Bucketing& b, std::chrono::milliseconds gap) {
  ANALYTICS_ROWS(rows, sql::Sessions(db_, range, b, gap), 4);
  std::vector<app::SessionStats> out;
  for (const auto& row : *rows) {
    Reader r{row};
    app::SessionStats s;
    const auto g = r.Num<std::int64_t>(0);
    if (g >= 0) s.bucket_ms = g;
    s.sessions = r.Num<std::uint64_t>(1);
    s.total_duration_ms = r.Num<std::int64_t>(2);
    s.median_duration_ms = r.Num<double>(3);
    if (!r.ok) return base::Fail(BadAnswer("sessions"));
    out.push_back(s);
  }
  return out;
}

base::Result<std::vector<app::MessageTotals>> ClickHouseAnalyticsStore::Messages(
    const domain::TimeRange& range, const app::MessageGrouping& g) {
  ANALYTICS_ROWS(rows, sql::Messages(db_, range, g), 9);
  std::vector<app::MessageTotals> out;
  for (const auto& row : *rows) {
    Reader r{row};
    app::MessageTotals m;
    m.bucket_ms = r.Num<std::int64_t>(0);
    m.provider = r.Str(1);
    m.model = r.Str(2);
    m.messages = r.Num<std::uint64_t>(3);
    m.tokens = r.Num<std::uint64_t>(4);
    m.input_tokens = r.Num<std::uint64_t>(5);
    m.output_tokens = r.Num<std::uint64_t>(6);
    m.users = r.Num<std::uint64_t>(7);
    m.conversations = r.Num<std::uint64_t>(8);
    if (!r.ok) return base::Fail(BadAnswer("messages"));
    out.push_back(std::move(m));
  }
  return out;
}

base::Result<std::vector<app::PaymentTotals>> ClickHouseAnalyticsStore::Payments(
    const domain::TimeRange& range, bool by_plan) {
  ANALYTICS_ROWS(rows, sql::Payments(db_, range, by_plan), 4);
  std::vector<app::PaymentTotals> out;
  for (const auto& row : *rows) {
    Reader r{row};
    out.push_back({r.Str(0), r.Str(1), r.Money(2, 4), r.Num<std::uint64_t>(3)});
    if (!r.ok) return base::Fail(BadAnswer("payments"));
  }
  return out;
}

base::Result<app::PaymentCounts> ClickHouseAnalyticsStore::PaymentOutcomes(
    const domain::TimeRange& range) {
  ANALYTICS_ROWS(rows, sql::PaymentOutcomes(db_, range), 2);
  if (rows->size() != 1) return base::Fail(BadAnswer("payment outcomes"));
  Reader r{rows->front()};
  app::PaymentCounts out{r.Num<std::uint64_t>(0), r.Num<std::uint64_t>(1)};
  if (!r.ok) return base::Fail(BadAnswer("payment outcomes"));
  return out;
}

base::Result<std::vector<app::BillingEvent>> ClickHouseAnalyticsStore::BillingHistory(
    base::TimePoint end) {
  ANALYTICS_ROWS(rows, sql::BillingHistory(db_, end), 6);
  std::vector<app::BillingEvent> out;
  out.reserve(rows->size());
  for (const auto& row : *rows) {
    Reader r{row};
    app::BillingEvent e;
    e.customer = r.Str(0);
    const auto type = r.Num<int>(1);
    e.kind = type == 9    ? app::BillingEvent::Kind::kPayment
             : type == 11 ? app::BillingEvent::Kind::kSubscribed
                          : app::BillingEvent::Kind::kCancelled;
    e.ts_ms = r.Num<std::int64_t>(2);
    e.plan = r.Str(3);
    e.currency = r.Str(4);
    e.amount = r.Money(5, 4);
    if (!r.ok) return base::Fail(BadAnswer("billing history"));
    out.push_back(std::move(e));
  }
  return out;
}

base::Result<std::vector<app::CostGroup>> ClickHouseAnalyticsStore::CostGroups(
    const domain::TimeRange& range, const app::Bucketing& b,
    const std::vector<std::int64_t>& breakpoints) {
  ANALYTICS_ROWS(rows, sql::CostGroups(db_, range, b, breakpoints), 11);
  std::vector<app::CostGroup> out;
  for (const auto& row : *rows) {
    Reader r{row};
    app::CostGroup g;
    g.bucket_ms = r.Num<std::int64_t>(0);
    g.provider = r.Str(1);
    g.model = r.Str(2);
    g.epoch = r.Num<std::size_t>(3);
    g.has_cost = r.Num<int>(4) != 0;
    g.has_split = r.Num<int>(5) != 0;
    g.messages = r.Num<std::uint64_t>(6);
    g.cost = r.Money(7, 9);
    g.tokens = r.Num<std::uint64_t>(8);
    g.input_tokens = r.Num<std::uint64_t>(9);
    g.output_tokens = r.Num<std::uint64_t>(10);
    if (!r.ok) return base::Fail(BadAnswer("cost groups"));
    out.push_back(std::move(g));
  }
  return out;
}

base::Result<std::vector<app::ModelCount>> ClickHouseAnalyticsStore::ModelUsage(
    const domain::TimeRange& range) {
  ANALYTICS_ROWS(rows, sql::ModelUsage(db_, range), 4);
  std::vector<app::ModelCount> out;
  for (const auto& row : *rows) {
    Reader r{row};
    out.push_back({r.Str(0), r.Str(1), r.Num<std::uint64_t>(2), r.Num<std::uint64_t>(3)});
    if (!r.ok) return base::Fail(BadAnswer("model usage"));
  }
  return out;
}

base::Result<std::uint64_t> ClickHouseAnalyticsStore::UsersOutside(
    const domain::TimeRange& range,
    const std::vector<std::pair<std::string, std::string>>& excluded) {
  ANALYTICS_ROWS(rows, sql::UsersOutside(db_, range, excluded), 1);
  if (rows->size() != 1) return base::Fail(BadAnswer("users outside"));
  Reader r{rows->front()};
  const auto n = r.Num<std::uint64_t>(0);
  if (!r.ok) return base::Fail(BadAnswer("users outside"));
  return n;
}

base::Result<std::vector<app::LatencyStats>> ClickHouseAnalyticsStore::Latencies(
    const domain::TimeRange& range, bool by_model) {
  ANALYTICS_ROWS(rows, sql::Latencies(db_, range, by_model), 7);
  std::vector<app::LatencyStats> out;
  for (const auto& row : *rows) {
    Reader r{row};
    out.push_back({r.Str(0), r.Str(1), r.Num<std::uint64_t>(2), r.Num<double>(3), r.Num<double>(4),
                   r.Num<double>(5), r.Num<double>(6)});
    if (!r.ok) return base::Fail(BadAnswer("latencies"));
  }
  return out;
}

namespace {
// `[1,2,3]` as numbers.
bool ParseIdArray(std::string_view text, std::vector<std::uint64_t>& out) {
  if (text.size() < 2 || text.front() != '[' || text.back() != ']') return false;
  text = text.substr(1, text.size() - 2);
  while (!text.empty()) {
    const auto comma = text.find(',');
    std::uint64_t v = 0;
    if (!ToNumber(text.substr(0, comma), v)) return false;
    out.push_back(v);
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  return true;
}

// The leading (slot, provider, model) columns of a slot fact row.
template <typename Fact>
void ReadModelKey(Reader& r, Fact& f) {
  f.slot = r.Num<std::int64_t>(0);
  f.provider = r.Str(1);
  f.model = r.Str(2);
}
}  // namespace

base::Result<app::SlotFacts> ClickHouseAnalyticsStore::ReadFacts(
    std::span<const app::MsRange> ranges, unsigned kinds) {
  app::SlotFacts facts;
  if (ranges.empty()) return facts;
  if ((kinds & app::kFactActivity) != 0) {
    ANALYTICS_ROWS(rows, sql::SlotActivity(db_, ranges), 4);
    facts.activity.reserve(rows->size());
    for (const auto& row : *rows) {
      Reader r{row};
      facts.activity.push_back({r.Num<std::int64_t>(0), r.Num<std::uint64_t>(1),
                                r.Num<std::int64_t>(2), r.Num<std::int64_t>(3)});
      if (!r.ok) return base::Fail(BadAnswer("slot activity"));
    }
  }
  if ((kinds & app::kFactPriced) != 0) {
    ANALYTICS_ROWS(rows, sql::SlotPriced(db_, ranges), 10);
    for (const auto& row : *rows) {
      Reader r{row};
      app::SlotFacts::Priced p;
      ReadModelKey(r, p);
      p.has_cost = r.Num<int>(3) != 0;
      p.has_split = r.Num<int>(4) != 0;
      p.messages = r.Num<std::uint64_t>(5);
      p.tokens = r.Num<std::uint64_t>(6);
      p.input_tokens = r.Num<std::uint64_t>(7);
      p.output_tokens = r.Num<std::uint64_t>(8);
      p.cost = r.Money(9, 9);
      if (!r.ok) return base::Fail(BadAnswer("slot messages"));
      facts.priced.push_back(std::move(p));
    }
  }
  if ((kinds & app::kFactAudience) != 0) {
    ANALYTICS_ROWS(rows, sql::SlotAudience(db_, ranges), 5);
    for (const auto& row : *rows) {
      Reader r{row};
      app::SlotFacts::Audience a;
      ReadModelKey(r, a);
      if (!r.ok || !ParseIdArray(row[3], a.users) || !ParseIdArray(row[4], a.conversations)) {
        return base::Fail(BadAnswer("slot audience"));
      }
      facts.audience.push_back(std::move(a));
    }
  }
  if ((kinds & app::kFactLatency) != 0) {
    ANALYTICS_ROWS(rows, sql::SlotLatency(db_, ranges), 6);
    for (const auto& row : *rows) {
      Reader r{row};
      app::SlotFacts::Latency l;
      ReadModelKey(r, l);
      l.sum_ms = r.Num<std::uint64_t>(3);
      std::vector<std::uint64_t> bins, counts;
      if (!r.ok || !ParseIdArray(row[4], bins) || !ParseIdArray(row[5], counts) ||
          bins.size() != counts.size()) {
        return base::Fail(BadAnswer("slot latency"));
      }
      for (std::size_t i = 0; i < bins.size(); ++i) {
        l.bins.emplace_back(static_cast<std::uint32_t>(bins[i]), counts[i]);
      }
      std::ranges::sort(l.bins);
      facts.latency.push_back(std::move(l));
    }
  }
  if ((kinds & app::kFactRecords) != 0) {
    ANALYTICS_ROWS(rows, sql::SlotRecords(db_, ranges), 9);
    facts.records.reserve(rows->size());
    for (const auto& row : *rows) {
      Reader r{row};
      app::SlotFacts::Record x;
      x.slot = r.Num<std::int64_t>(0);
      const auto type = r.Num<int>(1);  // the Enum8 numbers are the domain's order, from 1
      if (type < 1 || type > static_cast<int>(domain::kEventTypeCount)) r.ok = false;
      x.type = static_cast<domain::EventType>(type - 1);
      x.user_key = r.Num<std::uint64_t>(2);
      x.user_id = r.Str(3);
      x.ts_ms = r.Num<std::int64_t>(4);
      x.event_id = r.Str(5);
      x.plan = r.Str(6);
      x.currency = r.Str(7);
      x.amount = r.Money(8, 4);
      if (!r.ok) return base::Fail(BadAnswer("slot records"));
      facts.records.push_back(std::move(x));
    }
  }
  if ((kinds & app::kFactConversations) != 0) {
    ANALYTICS_ROWS(rows, sql::SlotConversations(db_, ranges), 3);
    for (const auto& row : *rows) {
      Reader r{row};
      facts.conversations.push_back(
          {r.Num<std::int64_t>(0), r.Num<std::uint64_t>(1), r.Num<std::uint64_t>(2)});
      if (!r.ok) return base::Fail(BadAnswer("slot conversations"));
    }
  }
  return facts;
}

base::Result<std::optional<app::MsRange>> ClickHouseAnalyticsStore::StoredSpan() {
  ANALYTICS_ROWS(rows, sql::StoredSpan(db_), 3);
  if (rows->size() != 1) return base::Fail(BadAnswer("stored span"));
  Reader r{rows->front()};
  const auto count = r.Num<std::uint64_t>(0);
  const app::MsRange span{r.Num<std::int64_t>(1), r.Num<std::int64_t>(2) + 1};
  if (!r.ok) return base::Fail(BadAnswer("stored span"));
  if (count == 0) return std::optional<app::MsRange>{};
  return std::optional<app::MsRange>{span};
}

#undef ANALYTICS_ROWS

}  // namespace adapters::clickhouse
