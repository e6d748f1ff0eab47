#include "domain/analytics_query.hpp"

#include <gtest/gtest.h>

#include "domain/timestamp.hpp"

namespace domain {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;

base::TimePoint At(std::string_view iso) { return *ParseIsoDateTime(iso); }

TimeZone Zone(std::string_view name) { return *TimeZone::Locate(name); }

std::vector<std::string> Labels(const std::vector<base::TimePoint>& starts, const TimeZone& tz) {
  std::vector<std::string> out;
  for (const auto t : starts) out.push_back(tz.Format(t));
  return out;
}

base::Result<AnalyticsQuery> Parse(Metric m, std::map<std::string, std::string> params) {
  return ParseAnalyticsQuery(m, params, At("2025-06-15T12:34:56Z"));
}

TEST(TimeZoneTest, UnknownZoneNamesTheParameter) {
  const auto tz = TimeZone::Locate("Mars/Olympus_Mons");
  ASSERT_FALSE(tz.has_value());
  EXPECT_EQ(tz.error().field, "tz");
}

TEST(TimeZoneTest, FormatsWithTheOffsetInForce) {
  const auto berlin = Zone("Europe/Berlin");
  EXPECT_EQ(berlin.Format(At("2025-01-15T12:00:00Z")), "2025-01-15T13:00:00+01:00");
  EXPECT_EQ(berlin.Format(At("2025-07-15T12:00:00Z")), "2025-07-15T14:00:00+02:00");
  EXPECT_EQ(Zone("America/St_Johns").Format(At("2025-01-15T12:00:00Z")), "2025-01-15T08:30:00-03:30");
  EXPECT_EQ(TimeZone::Utc().Format(At("2025-01-15T12:00:00.999Z")), "2025-01-15T12:00:00+00:00");
}

TEST(BucketStartsTest, DaysAcrossTheSpringDstChangeHave23Hours) {
  const auto berlin = Zone("Europe/Berlin");
  const auto starts = BucketStarts({At("2025-03-29T00:00:00+01:00"), At("2025-04-01T00:00:00+02:00")},
                                   berlin, Granularity::kDay, kMaxBuckets);
  ASSERT_TRUE(starts.has_value());
  EXPECT_EQ(Labels(*starts, berlin),
            (std::vector<std::string>{"2025-03-29T00:00:00+01:00", "2025-03-30T00:00:00+01:00",
                                      "2025-03-31T00:00:00+02:00"}));
  EXPECT_EQ((*starts)[2] - (*starts)[1], milliseconds{hours{23}});
}

TEST(BucketStartsTest, DaysAcrossTheAutumnDstChangeHave25Hours) {
  const auto berlin = Zone("Europe/Berlin");
  const auto starts = BucketStarts({At("2025-10-26T00:00:00+02:00"), At("2025-10-28T00:00:00+01:00")},
                                   berlin, Granularity::kDay, kMaxBuckets);
  ASSERT_TRUE(starts.has_value());
  ASSERT_EQ(starts->size(), 2u);
  EXPECT_EQ((*starts)[1] - (*starts)[0], milliseconds{hours{25}});
}

TEST(BucketStartsTest, HoursOfAHalfHourZoneStartAtHalfPastInUtc) {
  const auto kolkata = Zone("Asia/Kolkata");
  const auto starts = BucketStarts({At("2025-06-01T00:10:00Z"), At("2025-06-01T02:00:00Z")}, kolkata,
                                   Granularity::kHour, kMaxBuckets);
  ASSERT_TRUE(starts.has_value());
  EXPECT_EQ(Labels(*starts, kolkata),
            (std::vector<std::string>{"2025-06-01T05:00:00+05:30", "2025-06-01T06:00:00+05:30",
                                      "2025-06-01T07:00:00+05:30"}));
  EXPECT_EQ((*starts)[0], At("2025-05-31T23:30:00Z"));
}

TEST(BucketStartsTest, HoursRealignAfterAHalfHourDstChange) {
  // Lord Howe: +11:00 until 02:00 local on 2025-04-06, then +10:30 (01:30-02:00 happens twice).
  // The local hour 01:00+10:30 begins inside 01:00+11:00, so that hour is cut in two; from
  // then on every bucket starts on a local full hour again.
  const auto lh = Zone("Australia/Lord_Howe");
  const auto starts = BucketStarts({At("2025-04-06T00:00:00+11:00"), At("2025-04-06T04:00:00+10:30")}, lh,
                                   Granularity::kHour, kMaxBuckets);
  ASSERT_TRUE(starts.has_value());
  EXPECT_EQ(Labels(*starts, lh),
            (std::vector<std::string>{"2025-04-06T00:00:00+11:00", "2025-04-06T01:00:00+11:00",
                                      "2025-04-06T01:30:00+11:00", "2025-04-06T02:00:00+10:30",
                                      "2025-04-06T03:00:00+10:30"}));
}

TEST(BucketStartsTest, WeeksStartOnMondayAndMonthsOnTheFirst) {
  const auto utc = TimeZone::Utc();
  const auto weeks = BucketStarts({At("2025-06-01T10:00:00Z"), At("2025-06-10T00:00:00Z")}, utc,
                                  Granularity::kWeek, kMaxBuckets);
  ASSERT_TRUE(weeks.has_value());
  EXPECT_EQ(Labels(*weeks, utc),
            (std::vector<std::string>{"2025-05-26T00:00:00+00:00", "2025-06-02T00:00:00+00:00",
                                      "2025-06-09T00:00:00+00:00"}));
  const auto ny = Zone("America/New_York");
  const auto months = BucketStarts({At("2025-01-31T12:00:00Z"), At("2025-03-15T00:00:00Z")}, ny,
                                   Granularity::kMonth, kMaxBuckets);
  ASSERT_TRUE(months.has_value());
  EXPECT_EQ(Labels(*months, ny),
            (std::vector<std::string>{"2025-01-01T00:00:00-05:00", "2025-02-01T00:00:00-05:00",
                                      "2025-03-01T00:00:00-05:00"}));
}

TEST(BucketStartsTest, ExactlyTheLimitIsAllowedOneMoreIsNot) {
  const auto utc = TimeZone::Utc();
  const auto start = At("2025-01-01T00:00:00Z");
  const auto ok = BucketStarts({start, start + hours{10'000}}, utc, Granularity::kHour, kMaxBuckets);
  ASSERT_TRUE(ok.has_value());
  EXPECT_EQ(ok->size(), 10'000u);
  const auto too_many =
      BucketStarts({start, start + hours{10'000} + milliseconds{1}}, utc, Granularity::kHour, kMaxBuckets);
  ASSERT_FALSE(too_many.has_value());
  EXPECT_EQ(too_many.error().field, "granularity");
  // A huge range fails at once, without building the buckets.
  const auto huge = BucketStarts({At("2000-01-01T00:00:00Z"), At("2099-01-01T00:00:00Z")}, utc,
                                 Granularity::kHour, kMaxBuckets);
  ASSERT_FALSE(huge.has_value());
}

TEST(ParseRangeBoundTest, DatesAreLocalDaysAndEndDatesInclusive) {
  const auto berlin = Zone("Europe/Berlin");
  EXPECT_EQ(ParseRangeBound("2025-03-30", berlin, false), At("2025-03-30T00:00:00+01:00"));
  EXPECT_EQ(ParseRangeBound("2025-03-30", berlin, true), At("2025-03-31T00:00:00+02:00"));
  EXPECT_EQ(ParseRangeBound("2025-06-01T10:00:00+02:00", berlin, true), At("2025-06-01T08:00:00Z"));
  // A '+' that was not percent-encoded reaches the handler as a space.
  EXPECT_EQ(ParseRangeBound("2025-06-01T10:00:00 02:00", berlin, false), At("2025-06-01T08:00:00Z"));
  EXPECT_FALSE(ParseRangeBound("2025-06-01T10:00:00", berlin, false).has_value());
  EXPECT_FALSE(ParseRangeBound("2025-02-30", berlin, false).has_value());
  EXPECT_FALSE(ParseRangeBound("yesterday", berlin, false).has_value());
}

TEST(ParseAnalyticsQueryTest, DefaultsToTheThirtyDaysEndingNow) {
  const auto q = Parse(Metric::kChatMessages, {});
  ASSERT_TRUE(q.has_value());
  EXPECT_EQ(q->range.end, At("2025-06-15T12:34:56Z"));
  EXPECT_EQ(q->range.start, At("2025-05-16T12:34:56Z"));
  EXPECT_EQ(q->granularity, Granularity::kDay);
  EXPECT_EQ(q->buckets.size(), 31u);  // the first bucket is cut by the range start
  EXPECT_EQ(q->tz.name(), "UTC");
}

TEST(ParseAnalyticsQueryTest, RetentionDefaultsToWeeks) {
  const auto q = Parse(Metric::kUsersRetention, {{"startDate", "2025-06-02"}, {"endDate", "2025-06-15"}});
  ASSERT_TRUE(q.has_value());
  EXPECT_EQ(q->granularity, Granularity::kWeek);
  EXPECT_EQ(q->buckets.size(), 2u);
}

TEST(ParseAnalyticsQueryTest, EveryBadParameterIsNamed) {
  const std::vector<std::pair<std::map<std::string, std::string>, std::string>> cases = {
      {{{"tz", "Nowhere/City"}}, "tz"},
      {{{"granularity", "minute"}}, "granularity"},
      {{{"groupBy", "plan"}}, "groupBy"},
      {{{"limit", "5"}}, "limit"},  // chat/messages has no limit
      {{{"color", "red"}}, "color"},
      {{{"startDate", "2025-06-01T00:00:00"}}, "startDate"},
      {{{"endDate", "06/01/2025"}}, "endDate"},
      {{{"startDate", "2025-06-10"}, {"endDate", "2025-06-01"}}, "startDate"},
      {{{"startDate", "2161-03-01"}, {"endDate", "2161-03-31"}}, "startDate"},
      {{{"endDate", "2110-01-01"}}, "endDate"},
      {{{"startDate", "1969-12-31T00:00:00Z"}}, "startDate"},
      {{{"startDate", "2020-01-01"}, {"endDate", "2025-01-01"}, {"granularity", "hour"}}, "granularity"},
  };
  for (const auto& [params, field] : cases) {
    const auto q = Parse(Metric::kChatMessages, params);
    ASSERT_FALSE(q.has_value()) << field;
    EXPECT_EQ(q.error().code, base::ErrorCode::kInvalidArgument);
    EXPECT_EQ(q.error().field, field);
  }
}

TEST(ParseAnalyticsQueryTest, LimitOnlyOnPopularityAndWithinBounds) {
  EXPECT_EQ(Parse(Metric::kProvidersPopularity, {{"limit", "3"}})->limit, 3);
  EXPECT_EQ(Parse(Metric::kProvidersPopularity, {})->limit, 10);
  for (const auto* bad : {"0", "-1", "1001", "3.5", "ten"}) {
    const auto q = Parse(Metric::kProvidersPopularity, {{"limit", bad}});
    ASSERT_FALSE(q.has_value()) << bad;
    EXPECT_EQ(q.error().field, "limit");
  }
}

TEST(ParseAnalyticsQueryTest, BucketLimitOnlyWhereThereAreBuckets) {
  const std::map<std::string, std::string> long_hours = {
      {"startDate", "2020-01-01"}, {"endDate", "2025-01-01"}, {"granularity", "hour"}};
  EXPECT_TRUE(Parse(Metric::kProvidersUsage, long_hours).has_value());
  auto with_buckets = long_hours;
  with_buckets["groupBy"] = "bucket";
  EXPECT_FALSE(Parse(Metric::kProvidersUsage, with_buckets).has_value());
}

TEST(ParseAnalyticsQueryTest, KeyDiffersWhenAnyResolvedValueDiffers) {
  const auto a = Parse(Metric::kChatMessages, {{"startDate", "2025-06-01"}});
  const auto b = Parse(Metric::kChatMessages, {{"startDate", "2025-06-01"}, {"tz", "Europe/Berlin"}});
  const auto c = Parse(Metric::kChatMessages, {{"startDate", "2025-06-01"}, {"groupBy", "model"}});
  EXPECT_NE(a->Key(), b->Key());
  EXPECT_NE(a->Key(), c->Key());
  EXPECT_EQ(a->Key(), Parse(Metric::kChatMessages, {{"startDate", "2025-06-01"}})->Key());
  // "Up to now" is a different range a minute later: its answer would not match its meta.
  const auto later = ParseAnalyticsQuery(Metric::kChatMessages, {{"startDate", "2025-06-01"}},
                                         At("2025-06-15T12:35:56Z"));
  EXPECT_NE(a->Key(), later->Key());
}

TEST(MetricSpecTest, NineteenEndpointsInEnumOrder) {
  const auto all = AllMetrics();
  ASSERT_EQ(all.size(), 19u);
  for (std::size_t i = 0; i < all.size(); ++i) EXPECT_EQ(static_cast<std::size_t>(all[i].metric), i);
  EXPECT_EQ(SpecOf(Metric::kProvidersPerformance).path, "providers/performance");
}

}  // namespace
}  // namespace domain
