#include "domain/analytics_query.hpp"

#include <date/date.h>
#include <date/tz.h>
#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <limits>
#include <stdexcept>

#include "domain/timestamp.hpp"

namespace domain {
namespace {

using std::chrono::days;
using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr std::string_view kCommonParams[] = {"startDate", "endDate", "tz", "granularity"};

std::vector<MetricSpec> BuildSpecs() {
  using M = Metric;
  const auto week = Granularity::kWeek;
  const auto day = Granularity::kDay;
  return {
      {M::kUsersCount, "users/count", {}, false, false, day},
      {M::kUsersGrowth, "users/growth", {}, false, true, day},
      {M::kUsersByPlan, "users/by-plan", {}, false, false, day},
      {M::kUsersActive, "users/active", {}, false, true, day},
      {M::kUsersRetention, "users/retention", {}, false, true, week},
      {M::kChatMessages, "chat/messages", {"provider", "model"}, false, true, day},
      {M::kChatConversations, "chat/conversations", {}, false, true, day},
      {M::kChatByProvider, "chat/by-provider", {"model"}, false, false, day},
      {M::kChatTokens, "chat/tokens", {"provider", "model"}, false, true, day},
      {M::kChatAverageSession, "chat/average-session", {}, false, true, day},
      {M::kRevenueTotal, "revenue/total", {}, false, false, day},
      {M::kRevenueMrr, "revenue/mrr", {}, false, true, day},
      {M::kRevenueArr, "revenue/arr", {}, false, true, day},
      {M::kRevenueByPlan, "revenue/by-plan", {}, false, false, day},
      {M::kRevenueChurnRate, "revenue/churn-rate", {}, false, true, day},
      {M::kProvidersUsage, "providers/usage", {"model", "bucket"}, false, false, day},
      {M::kProvidersCosts, "providers/costs", {"model", "bucket"}, false, false, day},
      {M::kProvidersPopularity, "providers/popularity", {}, true, false, day},
      {M::kProvidersPerformance, "providers/performance", {"model"}, false, false, day},
  };
}

std::optional<Granularity> GranularityFrom(std::string_view s) {
  if (s == "hour") return Granularity::kHour;
  if (s == "day") return Granularity::kDay;
  if (s == "week") return Granularity::kWeek;
  if (s == "month") return Granularity::kMonth;
  return std::nullopt;
}

base::TimePoint ToTimePoint(date::sys_seconds s) {
  return std::chrono::time_point_cast<milliseconds>(s);
}

std::optional<date::year_month_day> ParseDate(std::string_view text) {
  if (text.size() != 10 || text[4] != '-' || text[7] != '-') return std::nullopt;
  int y = 0;
  unsigned m = 0, d = 0;
  auto num = [&](std::size_t pos, std::size_t len, auto& out) {
    const auto* first = text.data() + pos;
    const auto [p, ec] = std::from_chars(first, first + len, out);
    return ec == std::errc{} && p == first + len;
  };
  if (!num(0, 4, y) || !num(5, 2, m) || !num(8, 2, d)) return std::nullopt;
  const date::year_month_day ymd{date::year{y}, date::month{m}, date::day{d}};
  if (!ymd.ok()) return std::nullopt;
  return ymd;
}

// Refuses a query whose answer could hold more than `limits.max_cells` cells, naming the size and
// what to change: a coarser granularity, or, at months already, a shorter range.
base::Status CheckAnswerSize(const AnalyticsQuery& q, const AnswerLimits& limits) {
  const std::size_t cells = AnswerCellBound(q);
  if (cells <= limits.max_cells) return {};
  const auto g = GranularityName(q.granularity);
  const std::size_t n = q.buckets.size();
  std::string shape;
  if (q.metric == Metric::kUsersRetention) {
    shape = fmt::format("{} {} cohorts x up to {} periods, n(n+1)/2", n, g, n);
  } else if (HasOpenEndedGroups(q.metric, q.group_by)) {
    shape =
        fmt::format("{} {} buckets x {} groups: the {} largest and \"{}\"",
                    std::max<std::size_t>(n, 1), g, q.max_groups + 1, q.max_groups, kOtherGroup);
  } else {
    shape = fmt::format("{} {} buckets", n, g);
  }
  if (q.metric == Metric::kProvidersPopularity) {
    return base::Fail(base::Error::InvalidArgument(
        fmt::format("the answer could hold {} rows (limit {} and \"{}\"), more than the limit of "
                    "{} cells; use a smaller limit",
                    cells, q.limit, kOtherGroup, limits.max_cells),
        "limit"));
  }
  const bool coarsest = q.granularity == Granularity::kMonth;
  return base::Fail(base::Error::InvalidArgument(
      fmt::format("the answer could hold {} cells ({}), more than the limit of {}; use {}", cells,
                  shape, limits.max_cells,
                  coarsest ? "a shorter range" : "a coarser granularity or a shorter range"),
      coarsest ? "startDate" : "granularity"));
}

}  // namespace

std::string_view GranularityName(Granularity g) {
  switch (g) {
    case Granularity::kHour: return "hour";
    case Granularity::kDay: return "day";
    case Granularity::kWeek: return "week";
    case Granularity::kMonth: return "month";
  }
  return "day";
}

std::span<const MetricSpec> AllMetrics() {
  static const std::vector<MetricSpec> specs = BuildSpecs();
  return specs;
}

const MetricSpec& SpecOf(Metric metric) { return AllMetrics()[static_cast<std::size_t>(metric)]; }

base::Result<TimeZone> TimeZone::Locate(std::string_view name) {
  if (name == "UTC" || name == "Etc/UTC") return TimeZone(std::string(name), nullptr);
  // locate_zone throws for unknown names; the zone database is read once, on first use.
  try {
    return TimeZone(std::string(name), date::locate_zone(name));
  } catch (const std::exception&) {
    return base::Fail(base::Error::InvalidArgument(
        fmt::format("tz must be an IANA time zone name such as Europe/Berlin, got '{}'", name),
        "tz"));
  }
}

TimeZone TimeZone::Utc() { return TimeZone("UTC", nullptr); }

seconds TimeZone::OffsetAt(base::TimePoint t) const {
  if (zone_ == nullptr) return seconds{0};
  return zone_->get_info(std::chrono::floor<seconds>(t)).offset;
}

base::TimePoint TimeZone::DayStart(base::TimePoint t, int day_shift) const {
  const auto s = std::chrono::floor<seconds>(t);
  if (zone_ == nullptr) return ToTimePoint(std::chrono::floor<days>(s) + days{day_shift});
  const auto local_day = std::chrono::floor<days>(zone_->to_local(s)) + days{day_shift};
  // A midnight that does not exist (a DST jump at 00:00) maps to the transition instant.
  return ToTimePoint(zone_->to_sys(local_day, date::choose::earliest));
}

base::TimePoint TimeZone::MidnightOf(std::chrono::sys_days civil_date) const {
  if (zone_ == nullptr) return ToTimePoint(civil_date);
  return ToTimePoint(
      zone_->to_sys(date::local_days{civil_date.time_since_epoch()}, date::choose::earliest));
}

base::TimePoint TimeZone::Floor(base::TimePoint t, Granularity g) const {
  const auto s = std::chrono::floor<seconds>(t);
  switch (g) {
    case Granularity::kHour: {
      // Local hour: shift by the offset in force, floor, shift back (right for :30 zones too).
      const auto off = OffsetAt(t);
      return ToTimePoint(std::chrono::floor<hours>(s + off) - off);
    }
    case Granularity::kDay: return DayStart(t);
    case Granularity::kWeek: {
      const auto local = zone_ == nullptr ? date::local_seconds{s.time_since_epoch()}
                                          : zone_->to_local(s);
      const date::local_days d = std::chrono::floor<days>(local);
      const date::weekday wd{d};
      const auto monday = d - (wd - date::Monday);
      if (zone_ == nullptr) return ToTimePoint(date::sys_days{monday.time_since_epoch()});
      return ToTimePoint(zone_->to_sys(monday, date::choose::earliest));
    }
    case Granularity::kMonth: {
      const auto local = zone_ == nullptr ? date::local_seconds{s.time_since_epoch()}
                                          : zone_->to_local(s);
      const date::year_month_day ymd{std::chrono::floor<days>(local)};
      const date::local_days first{ymd.year() / ymd.month() / 1};
      if (zone_ == nullptr) return ToTimePoint(date::sys_days{first.time_since_epoch()});
      return ToTimePoint(zone_->to_sys(first, date::choose::earliest));
    }
  }
  return t;
}

base::TimePoint TimeZone::Next(base::TimePoint bucket_start, Granularity g) const {
  switch (g) {
    case Granularity::kHour: {
      // Realigned to the local full hour after each step: across a half-hour DST change (Lord
      // Howe) the next local hour starts 30 or 90 minutes later.
      const auto next = Floor(bucket_start + hours{1}, g);
      return next > bucket_start ? next : bucket_start + hours{1};
    }
    case Granularity::kDay: return DayStart(bucket_start, 1);
    case Granularity::kWeek: return DayStart(bucket_start, 7);
    case Granularity::kMonth: {
      const auto s = std::chrono::floor<seconds>(bucket_start);
      const auto local = zone_ == nullptr ? date::local_seconds{s.time_since_epoch()}
                                          : zone_->to_local(s);
      const date::year_month_day ymd{std::chrono::floor<days>(local)};
      const date::local_days next{(ymd.year() / ymd.month() + date::months{1}) / 1};
      if (zone_ == nullptr) return ToTimePoint(date::sys_days{next.time_since_epoch()});
      return ToTimePoint(zone_->to_sys(next, date::choose::earliest));
    }
  }
  return bucket_start;
}

std::string TimeZone::Format(base::TimePoint t) const {
  const auto s = std::chrono::floor<seconds>(t);
  const auto off = OffsetAt(t);
  const auto local = date::local_seconds{(s + off).time_since_epoch()};
  const auto minutes = std::chrono::duration_cast<std::chrono::minutes>(off).count();
  const auto abs_min = minutes < 0 ? -minutes : minutes;
  return fmt::format("{}{}{:02}:{:02}", date::format("%Y-%m-%dT%H:%M:%S", local),
                     minutes < 0 ? '-' : '+', abs_min / 60, abs_min % 60);
}

base::Result<std::vector<base::TimePoint>> BucketStarts(const TimeRange& range,
                                                        const TimeZone& tz, Granularity g,
                                                        std::size_t max_buckets) {
  // Estimate first so that a range of a million hours fails before anything is built; the
  // shortest local bucket of each kind bounds the count from above.
  const auto span = range.end - range.start;
  const auto shortest = g == Granularity::kHour  ? milliseconds{hours{1}}
                        : g == Granularity::kDay ? milliseconds{hours{23}}
                        : g == Granularity::kWeek ? milliseconds{hours{7 * 24 - 1}}
                                                  : milliseconds{hours{28 * 24 - 1}};
  const auto too_many = [&] {
    return base::Fail(base::Error::InvalidArgument(
        fmt::format("the range holds more than {} {} buckets; use a coarser granularity or a "
                    "shorter range",
                    max_buckets, GranularityName(g)),
        "granularity"));
  };
  if (span / shortest > static_cast<std::int64_t>(max_buckets) + 2) return too_many();
  std::vector<base::TimePoint> starts;
  for (auto b = tz.Floor(range.start, g); b < range.end; b = tz.Next(b, g)) {
    if (starts.size() == max_buckets) return too_many();
    starts.push_back(b);
  }
  return starts;
}

std::optional<base::TimePoint> ParseRangeBound(std::string_view text, const TimeZone& tz,
                                               bool is_end) {
  if (const auto ymd = ParseDate(text)) {
    const std::chrono::sys_days d{date::sys_days{*ymd}.time_since_epoch()};
    return tz.MidnightOf(is_end ? d + days{1} : d);
  }
  // A '+' of an offset that was not percent-encoded arrives as a space in a query string.
  std::string repaired(text);
  if (repaired.size() > 19 && repaired.find(' ', 19) != std::string::npos) {
    repaired[repaired.find(' ', 19)] = '+';
  }
  return ParseIsoDateTime(repaired);
}

std::string AnalyticsQuery::Key() const {
  return fmt::format("{}|{}|{}|{}|{}|{}|{}|{}", SpecOf(metric).path,
                     range.start.time_since_epoch().count(), range.end.time_since_epoch().count(),
                     tz.name(), GranularityName(granularity), group_by, limit, max_groups);
}

bool HasOpenEndedGroups(Metric metric, std::string_view group_by) {
  using M = Metric;
  switch (metric) {
    case M::kChatMessages:
    case M::kChatTokens:
      return !group_by.empty();
    case M::kUsersByPlan:
    case M::kChatByProvider:
    case M::kRevenueTotal:
    case M::kRevenueMrr:
    case M::kRevenueArr:
    case M::kRevenueByPlan:
    case M::kRevenueChurnRate:
    case M::kProvidersUsage:
    case M::kProvidersCosts:
    case M::kProvidersPerformance:
      return true;
    default:
      return false;
  }
}

std::size_t AnswerCellBound(const AnalyticsQuery& q) {
  // Saturating, so that a huge configured max_groups cannot wrap the bound into a small one.
  constexpr auto kMax = std::numeric_limits<std::size_t>::max();
  const auto times = [](std::size_t a, std::size_t b) {
    return b != 0 && a > kMax / b ? kMax : a * b;
  };
  const std::size_t n = q.buckets.size();
  if (q.metric == Metric::kUsersRetention) return times(n, n + 1) / 2;
  if (q.metric == Metric::kProvidersPopularity) return static_cast<std::size_t>(q.limit) + 1;
  const std::size_t groups = !HasOpenEndedGroups(q.metric, q.group_by) ? 1
                             : q.max_groups == kMax                    ? kMax
                                                                       : q.max_groups + 1;
  return times(std::max<std::size_t>(n, 1), groups);
}

base::Result<AnalyticsQuery> ParseAnalyticsQuery(Metric metric,
                                                 const std::map<std::string, std::string>& params,
                                                 base::TimePoint now, const AnswerLimits& limits) {
  const auto& spec = SpecOf(metric);
  for (const auto& [name, value] : params) {
    const bool common = std::ranges::find(kCommonParams, name) != std::end(kCommonParams);
    const bool allowed = common || (name == "groupBy" && !spec.group_by.empty()) ||
                         (name == "limit" && spec.has_limit);
    if (!allowed) {
      return base::Fail(base::Error::InvalidArgument(
          fmt::format("unknown parameter '{}' for {}", name, spec.path), name));
    }
  }
  const auto param = [&](std::string_view name) -> const std::string* {
    const auto it = params.find(std::string(name));
    return it == params.end() ? nullptr : &it->second;
  };

  AnalyticsQuery q;
  q.metric = metric;
  if (const auto* tz = param("tz")) {
    auto zone = TimeZone::Locate(*tz);
    if (!zone) return base::Fail(zone.error());
    q.tz = *zone;
  }
  q.granularity = spec.default_granularity;
  if (const auto* g = param("granularity")) {
    const auto parsed = GranularityFrom(*g);
    if (!parsed) {
      return base::Fail(base::Error::InvalidArgument(
          fmt::format("granularity must be hour, day, week or month, got '{}'", *g),
          "granularity"));
    }
    q.granularity = *parsed;
  }
  if (const auto* group = param("groupBy")) {
    if (std::ranges::find(spec.group_by, *group) == spec.group_by.end()) {
      std::string allowed;
      for (const auto g : spec.group_by) allowed += (allowed.empty() ? "" : ", ") + std::string(g);
      return base::Fail(base::Error::InvalidArgument(
          fmt::format("groupBy for {} must be one of: {}; got '{}'", spec.path, allowed, *group),
          "groupBy"));
    }
    q.group_by = *group;
  }
  if (const auto* limit = param("limit")) {
    int value = 0;
    const auto [p, ec] = std::from_chars(limit->data(), limit->data() + limit->size(), value);
    if (ec != std::errc{} || p != limit->data() + limit->size() || value < 1 || value > 1000) {
      return base::Fail(base::Error::InvalidArgument(
          fmt::format("limit must be an integer from 1 to 1000, got '{}'", *limit), "limit"));
    }
    q.limit = value;
  }

  const auto bound = [&](std::string_view name, bool is_end) -> base::Result<std::optional<base::TimePoint>> {
    const auto* text = param(name);
    if (text == nullptr) return std::optional<base::TimePoint>{};
    const auto t = ParseRangeBound(*text, q.tz, is_end);
    // Storage keeps seconds in 32-bit DateTime: no instant beyond 2106 exists there. A date is
    // judged as written, so that the first and last days are whole in every zone; a date-time
    // by the instant it names.
    static const auto kEarliest = *ParseIsoDateTime("1990-01-01T00:00:00Z");
    static const auto kLatest = *ParseIsoDateTime("2100-01-01T00:00:00Z");
    const auto written_date = ParseDate(*text);
    const auto judged =
        written_date ? std::optional(ToTimePoint(date::sys_days{*written_date})) : t;
    if (judged && (*judged < kEarliest || *judged > kLatest)) {
      return base::Fail(base::Error::InvalidArgument(
          fmt::format("{} must be between 1990-01-01 and 2100-01-01, got '{}'", name, *text),
          std::string(name)));
    }
    if (!t) {
      return base::Fail(base::Error::InvalidArgument(
          fmt::format("{} must be a date (2025-01-31) or a date-time with an offset "
                      "(2025-01-31T12:00:00Z, 2025-01-31T13:00:00+01:00), got '{}'",
                      name, *text),
          std::string(name)));
    }
    return t;
  };
  auto start = bound("startDate", false);
  if (!start) return base::Fail(start.error());
  auto end = bound("endDate", true);
  if (!end) return base::Fail(end.error());
  q.range.end = end->value_or(now);
  q.range.start = start->value_or(q.range.end - days{30});
  if (q.range.start >= q.range.end) {
    return base::Fail(base::Error::InvalidArgument(
        fmt::format("startDate ({}) must be before endDate ({})", q.tz.Format(q.range.start),
                    q.tz.Format(q.range.end)),
        "startDate"));
  }
  const bool bucketed = spec.has_buckets || q.group_by == "bucket";
  if (bucketed) {
    auto buckets = BucketStarts(q.range, q.tz, q.granularity, kMaxBuckets);
    if (!buckets) return base::Fail(buckets.error());
    q.buckets = std::move(*buckets);
  }
  q.max_groups = limits.max_groups;
  if (auto fits = CheckAnswerSize(q, limits); !fits) return base::Fail(fits.error());
  return q;
}

}  // namespace domain
