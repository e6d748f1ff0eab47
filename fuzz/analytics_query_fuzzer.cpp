// The query string of every analytics request reaches ParseAnalyticsQuery. The input is read as
// a query string (`name=value` pairs split on `&`, the first `=` separating; no percent-decoding,
// which the HTTP adapter does before) and parsed for every endpoint. Besides crashes, leaks and
// undefined behaviour (ASan, UBSan; the time zone arithmetic and the bucket loop are the risky
// parts), this checks what an accepted query must satisfy and that a refusal names a parameter.

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <string>
#include <string_view>

#include "domain/analytics_query.hpp"

namespace {

using std::chrono::hours;

// Fixed, so that an input parses the same way on every run and a crash replays.
const base::TimePoint kNow = base::TimePoint(std::chrono::milliseconds(1'750'000'000'000));

void Check(bool holds, const char* invariant, std::string_view input, std::string_view path) {
  if (holds) return;
  std::fprintf(stderr, "invariant violated for %.*s: %s\ninput: %.*s\n",
               static_cast<int>(path.size()), path.data(), invariant,
               static_cast<int>(std::min<std::size_t>(input.size(), 2000)), input.data());
  std::abort();
}

/// Later pairs win, as in most query-string readers; a repeated or empty name is kept as is.
std::map<std::string, std::string> QueryParameters(std::string_view query) {
  std::map<std::string, std::string> params;
  while (true) {
    const auto amp = query.find('&');
    const auto pair = query.substr(0, amp);
    const auto eq = pair.find('=');
    params[std::string(pair.substr(0, eq))] =
        eq == std::string_view::npos ? std::string() : std::string(pair.substr(eq + 1));
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return params;
}

void CheckAccepted(const domain::AnalyticsQuery& q, const domain::MetricSpec& spec,
                   std::string_view input) {
  const auto path = spec.path;
  // 1990-01-01 and the day after 2100-01-01, widened by the largest offsets of any zone; a
  // range given by its end alone starts 30 days earlier.
  const auto earliest = base::TimePoint(std::chrono::milliseconds(631'152'000'000)) -
                        std::chrono::days{30} - hours{26};
  const auto latest = base::TimePoint(std::chrono::milliseconds(4'102'531'200'000)) + hours{26};
  Check(q.metric == spec.metric, "the metric is the one asked for", input, path);
  Check(q.range.start < q.range.end, "the range is not empty", input, path);
  Check(q.range.start >= earliest && q.range.end <= latest, "the range is within 1990..2100", input,
        path);
  Check(q.limit >= 1 && q.limit <= 1000, "limit is 1..1000", input, path);
  Check(q.group_by.empty() || std::ranges::find(spec.group_by, q.group_by) != spec.group_by.end(),
        "groupBy is one the endpoint allows", input, path);
  Check(q.buckets.size() <= domain::kMaxBuckets, "at most kMaxBuckets buckets", input, path);
  const bool bucketed = spec.has_buckets || q.group_by == "bucket";
  Check(bucketed != q.buckets.empty(), "buckets exactly where the answer has them", input, path);
  if (!q.buckets.empty()) {
    Check(q.buckets.front() <= q.range.start, "the first bucket holds the range start", input,
          path);
    Check(q.buckets.back() < q.range.end, "the last bucket starts before the range end", input,
          path);
    Check(std::ranges::adjacent_find(q.buckets, std::greater_equal<>()) == q.buckets.end(),
          "buckets strictly increase", input, path);
  }
  Check(!q.Key().empty(), "the cache key is not empty", input, path);
  Check(!q.tz.Format(q.range.start).empty() && !q.tz.Format(q.range.end).empty(),
        "the range can be echoed", input, path);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const auto params = QueryParameters(input);
  for (const auto& spec : domain::AllMetrics()) {
    const auto parsed = domain::ParseAnalyticsQuery(spec.metric, params, kNow);
    if (parsed) {
      CheckAccepted(*parsed, spec, input);
      continue;
    }
    const auto& error = parsed.error();
    Check(error.code == base::ErrorCode::kInvalidArgument, "a refusal is kInvalidArgument", input,
          spec.path);
    Check(!error.message.empty(), "a refusal has a message", input, spec.path);
    // Every refusal names a parameter that was sent, or the one to change (a default range
    // too long for the default granularity, a range too long for months).
    Check(
        params.contains(error.field) || error.field == "granularity" || error.field == "startDate",
        "a refusal names a parameter", input, spec.path);
  }
  return 0;
}
