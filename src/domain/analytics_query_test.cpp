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

// docs/metrics.md: startDate and endDate outside 1990-01-01 .. 2100-01-01 are refused. A date
// is judged as written, whatever `tz`; a date-time by the instant it names.
TEST(ParseAnalyticsQueryTest, DatesOutsideTheSupportedRangeAreRefused) {
  const std::vector<std::pair<std::map<std::string, std::string>, std::string>> cases = {
      {{{"startDate", "0001-01-01"}}, "startDate"},
      {{{"startDate", "0000-01-01T00:00:00Z"}}, "startDate"},
      {{{"startDate", "1989-12-31"}}, "startDate"},
      {{{"startDate", "1989-12-31T23:59:59.999Z"}}, "startDate"},
      {{{"startDate", "1990-01-01T00:00:00+00:01"}}, "startDate"},
      {{{"startDate", "-001-01-01"}, {"endDate", "2025-01-01"}}, "startDate"},
      {{{"startDate", "2100-01-01T00:00:01Z"}, {"endDate", "2100-01-01"}}, "startDate"},
      {{{"startDate", "2100-01-02"}, {"endDate", "2100-01-02"}}, "startDate"},
      {{{"endDate", "2100-01-02"}}, "endDate"},
      {{{"endDate", "2100-01-01T00:00:01Z"}}, "endDate"},
      {{{"endDate", "2100-01-01T00:00:00-00:01"}}, "endDate"},
      {{{"endDate", "9999-12-31"}}, "endDate"},
      {{{"endDate", "9999-12-31T23:59:59.999-23:59"}}, "endDate"},
      {{{"startDate", "2020-01-01"}, {"endDate", "0001-01-01"}}, "endDate"},
  };
  for (const auto& [params, field] : cases) {
    for (const auto* tz : {"UTC", "Pacific/Kiritimati", "Pacific/Pago_Pago"}) {
      auto with_tz = params;
      with_tz["tz"] = tz;
      const auto q = Parse(Metric::kUsersCount, with_tz);
      ASSERT_FALSE(q.has_value()) << params.begin()->second << " " << tz;
      EXPECT_EQ(q.error().field, field) << params.begin()->second << " " << tz;
      EXPECT_NE(q.error().message.find("between 1990-01-01 and 2100-01-01"), std::string::npos)
          << q.error().message;
    }
  }
}

TEST(ParseAnalyticsQueryTest, MalformedAndExtremeDateFormsAreRefused) {
  for (const auto* text :
       {"+10000-01-01", "10000-01-01", "12025-01-01T00:00:00Z", "+2025-01-01", "2025-1-01",
        "2025-01-01T00:00:00+99:99", "2025-01-01T00:00:00+24:00", "2025-01-01T00:00:00-23:60",
        "2025-01-01T00:00:00+0000000", "2025-01-01T24:00:00Z", "2025-13-01", "2025-02-29", "",
        " 2025-01-01", "2025-01-01 ", "2025-01-01T00:00:00Z ", "2025-01-01T00:00:00", "0x7E9-01-01",
        "1e3-01-01"}) {
    for (const auto* name : {"startDate", "endDate"}) {
      const auto q = Parse(Metric::kUsersCount, {{name, text}});
      ASSERT_FALSE(q.has_value()) << name << "=" << text;
      EXPECT_EQ(q.error().field, name) << text;
    }
  }
}

TEST(ParseAnalyticsQueryTest, TheWholeSupportedRangeIsAccepted) {
  const auto utc =
      Parse(Metric::kUsersCount, {{"startDate", "1990-01-01"}, {"endDate", "2100-01-01"}});
  ASSERT_TRUE(utc.has_value()) << utc.error().message;
  EXPECT_EQ(utc->range.start, At("1990-01-01T00:00:00Z"));
  EXPECT_EQ(utc->range.end, At("2100-01-02T00:00:00Z"));

  const auto instants = Parse(Metric::kUsersCount, {{"startDate", "1990-01-01T00:00:00Z"},
                                                    {"endDate", "2100-01-01T00:00:00+00:00"}});
  ASSERT_TRUE(instants.has_value()) << instants.error().message;
  EXPECT_EQ(instants->range.end, At("2100-01-01T00:00:00Z"));

  // The first and last dates are local days in any zone, east or west of UTC.
  for (const auto* tz :
       {"Pacific/Kiritimati", "Asia/Tokyo", "America/Los_Angeles", "Pacific/Pago_Pago"}) {
    const auto q = Parse(Metric::kUsersCount,
                         {{"startDate", "1990-01-01"}, {"endDate", "2100-01-01"}, {"tz", tz}});
    ASSERT_TRUE(q.has_value()) << tz << ": " << q.error().message;
    EXPECT_EQ(q->tz.Format(q->range.start).substr(0, 19), "1990-01-01T00:00:00") << tz;
    EXPECT_EQ(q->tz.Format(q->range.end).substr(0, 19), "2100-01-02T00:00:00") << tz;
  }
}

TEST(ParseAnalyticsQueryTest, LimitRefusesEveryFormButADecimalInteger) {
  for (const auto* bad : {"1e2", "-0", "0", "+5", "99999999999999999999", "4294967306", "0x10", "",
                          " 5", "5 ", "1000.0", "10.", "1,000", "1_0", "١٠"}) {
    const auto q = Parse(Metric::kProvidersPopularity, {{"limit", bad}});
    ASSERT_FALSE(q.has_value()) << "'" << bad << "'";
    EXPECT_EQ(q.error().field, "limit") << bad;
  }
  EXPECT_EQ(Parse(Metric::kProvidersPopularity, {{"limit", "1"}})->limit, 1);
  EXPECT_EQ(Parse(Metric::kProvidersPopularity, {{"limit", "1000"}})->limit, 1000);
}

TEST(ParseAnalyticsQueryTest, EmptyValuesAreRefusedNamingTheParameter) {
  for (const auto* name : {"startDate", "endDate", "tz", "granularity", "groupBy"}) {
    const auto q = Parse(Metric::kChatMessages, {{name, ""}});
    ASSERT_FALSE(q.has_value()) << name;
    EXPECT_EQ(q.error().field, name);
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

base::Result<AnalyticsQuery> ParseWith(Metric m, std::map<std::string, std::string> params,
                                       AnswerLimits limits) {
  return ParseAnalyticsQuery(m, params, At("2025-06-15T12:34:56Z"), limits);
}

std::map<std::string, std::string> Hours(std::string_view start, int hours_count,
                                         std::string group_by = "") {
  const auto end = At(start) + hours{hours_count};
  std::map<std::string, std::string> p = {
      {"startDate", std::string(start)}, {"endDate", FormatIsoUtc(end)}, {"granularity", "hour"}};
  if (!group_by.empty()) p["groupBy"] = group_by;
  return p;
}

TEST(AnswerLimitsTest, SeriesOfExactlyMaxCellsIsAllowedOneMoreBucketIsNot) {
  const AnswerLimits limits{.max_cells = 24, .max_groups = 50};
  const auto ok = ParseWith(Metric::kChatConversations, Hours("2025-06-01T00:00:00Z", 24), limits);
  ASSERT_TRUE(ok.has_value()) << ok.error().message;
  EXPECT_EQ(AnswerCellBound(*ok), 24u);
  const auto over =
      ParseWith(Metric::kChatConversations, Hours("2025-06-01T00:00:00Z", 25), limits);
  ASSERT_FALSE(over.has_value());
  EXPECT_EQ(over.error().code, base::ErrorCode::kInvalidArgument);
  EXPECT_EQ(over.error().field, "granularity");
  EXPECT_NE(over.error().message.find("25 cells"), std::string::npos) << over.error().message;
  EXPECT_NE(over.error().message.find("limit of 24"), std::string::npos) << over.error().message;
  EXPECT_NE(over.error().message.find("coarser granularity or a shorter range"), std::string::npos);
}

TEST(AnswerLimitsTest, GroupedSeriesCountMaxGroupsPlusOtherPerBucket) {
  const AnswerLimits limits{.max_cells = 24, .max_groups = 2};
  // 8 hours x (2 groups + "(other)") = 24 cells: allowed; 9 hours = 27: refused.
  const auto ok =
      ParseWith(Metric::kChatMessages, Hours("2025-06-01T00:00:00Z", 8, "model"), limits);
  ASSERT_TRUE(ok.has_value()) << ok.error().message;
  EXPECT_EQ(AnswerCellBound(*ok), 24u);
  EXPECT_EQ(ok->max_groups, 2u);
  const auto over =
      ParseWith(Metric::kChatMessages, Hours("2025-06-01T00:00:00Z", 9, "model"), limits);
  ASSERT_FALSE(over.has_value());
  EXPECT_EQ(over.error().field, "granularity");
  EXPECT_NE(over.error().message.find("27 cells (9 hour buckets x 3 groups"), std::string::npos)
      << over.error().message;
  // Ungrouped, the same 9 hours are 9 cells; grouped by bucket x provider they are 27 again.
  EXPECT_TRUE(
      ParseWith(Metric::kChatMessages, Hours("2025-06-01T00:00:00Z", 9), limits).has_value());
  EXPECT_FALSE(
      ParseWith(Metric::kProvidersUsage, Hours("2025-06-01T00:00:00Z", 9, "bucket"), limits)
          .has_value());
  // Currencies are open-ended too: MRR rows are bucket x currency.
  EXPECT_FALSE(
      ParseWith(Metric::kRevenueMrr, Hours("2025-06-01T00:00:00Z", 9), limits).has_value());
  EXPECT_TRUE(ParseWith(Metric::kRevenueMrr, Hours("2025-06-01T00:00:00Z", 8), limits).has_value());
}

TEST(AnswerLimitsTest, RetentionCountsCohortsTimesPeriods) {
  const AnswerLimits small{.max_cells = 10, .max_groups = 50};
  // 4 daily buckets: 4 + 3 + 2 + 1 = 10 cells.
  const auto ok = ParseWith(
      Metric::kUsersRetention,
      {{"startDate", "2025-06-01"}, {"endDate", "2025-06-04"}, {"granularity", "day"}}, small);
  ASSERT_TRUE(ok.has_value()) << ok.error().message;
  EXPECT_EQ(AnswerCellBound(*ok), 10u);
  const auto over = ParseWith(
      Metric::kUsersRetention,
      {{"startDate", "2025-06-01"}, {"endDate", "2025-06-05"}, {"granularity", "day"}}, small);
  ASSERT_FALSE(over.has_value());
  EXPECT_EQ(over.error().field, "granularity");
  EXPECT_NE(over.error().message.find("15 cells"), std::string::npos) << over.error().message;
  // With the default 100,000: 446 days (99,681 cells) pass, 447 (100,128) do not.
  const auto days_446 =
      Parse(Metric::kUsersRetention,
            {{"startDate", "2024-01-01"}, {"endDate", "2025-03-21"}, {"granularity", "day"}});
  ASSERT_TRUE(days_446.has_value()) << days_446.error().message;
  EXPECT_EQ(days_446->buckets.size(), 446u);
  EXPECT_EQ(AnswerCellBound(*days_446), 99'681u);
  const auto days_447 =
      Parse(Metric::kUsersRetention,
            {{"startDate", "2024-01-01"}, {"endDate", "2025-03-22"}, {"granularity", "day"}});
  ASSERT_FALSE(days_447.has_value());
  EXPECT_NE(days_447.error().message.find("100128 cells"), std::string::npos)
      << days_447.error().message;
}

TEST(AnswerLimitsTest, TheAdversarialRangesAreRefusedBeforeAnyQuery) {
  // 402 days of hours: under the 10,000 buckets, but 9,648 x 9,649 / 2 retention cells.
  const auto retention =
      Parse(Metric::kUsersRetention,
            {{"startDate", "2025-11-01"}, {"endDate", "2026-12-07"}, {"granularity", "hour"}});
  ASSERT_FALSE(retention.has_value());
  EXPECT_EQ(retention.error().field, "granularity");
  EXPECT_NE(retention.error().message.find("46546776 cells"), std::string::npos)
      << retention.error().message;
  const auto messages = Parse(Metric::kChatMessages, {{"startDate", "2025-01-01"},
                                                      {"endDate", "2025-12-31"},
                                                      {"granularity", "hour"},
                                                      {"groupBy", "model"}});
  ASSERT_FALSE(messages.has_value());
  EXPECT_NE(messages.error().message.find("8760 hour buckets x 51 groups"), std::string::npos)
      << messages.error().message;
  EXPECT_TRUE(Parse(Metric::kChatMessages, {{"startDate", "2025-01-01"},
                                            {"endDate", "2025-12-31"},
                                            {"granularity", "day"},
                                            {"groupBy", "model"}})
                  .has_value());
}

TEST(AnswerLimitsTest, MonthsNameTheRangeAndPopularityItsLimit) {
  const AnswerLimits limits{.max_cells = 12, .max_groups = 50};
  const auto months = ParseWith(
      Metric::kUsersGrowth,
      {{"startDate", "2024-01-01"}, {"endDate", "2025-01-31"}, {"granularity", "month"}}, limits);
  ASSERT_FALSE(months.has_value());
  EXPECT_EQ(months.error().field, "startDate");
  EXPECT_NE(months.error().message.find("shorter range"), std::string::npos);
  const AnswerLimits five{.max_cells = 5, .max_groups = 50};
  EXPECT_TRUE(ParseWith(Metric::kProvidersPopularity, {{"limit", "4"}}, five).has_value());
  const auto popular = ParseWith(Metric::kProvidersPopularity, {{"limit", "5"}}, five);
  ASSERT_FALSE(popular.has_value());
  EXPECT_EQ(popular.error().field, "limit");
}

TEST(AnswerLimitsTest, ListsAreBoundedByTheirGroups) {
  const auto by_provider = Parse(Metric::kChatByProvider, {{"groupBy", "model"}});
  ASSERT_TRUE(by_provider.has_value());
  EXPECT_EQ(AnswerCellBound(*by_provider), 51u);
  EXPECT_EQ(AnswerCellBound(*Parse(Metric::kUsersCount, {})), 1u);
  EXPECT_EQ(AnswerCellBound(*Parse(Metric::kProvidersPopularity, {{"limit", "7"}})), 8u);
  EXPECT_TRUE(HasOpenEndedGroups(Metric::kRevenueTotal, ""));
  EXPECT_TRUE(HasOpenEndedGroups(Metric::kChatTokens, "provider"));
  EXPECT_FALSE(HasOpenEndedGroups(Metric::kChatTokens, ""));
  EXPECT_FALSE(HasOpenEndedGroups(Metric::kProvidersPopularity, ""));
  // The groups kept are part of the answer: another limit is another cache entry.
  EXPECT_NE(by_provider->Key(),
            ParseWith(Metric::kChatByProvider, {{"groupBy", "model"}}, {.max_groups = 3})->Key());
}

TEST(MetricSpecTest, NineteenEndpointsInEnumOrder) {
  const auto all = AllMetrics();
  ASSERT_EQ(all.size(), 19u);
  for (std::size_t i = 0; i < all.size(); ++i) EXPECT_EQ(static_cast<std::size_t>(all[i].metric), i);
  EXPECT_EQ(SpecOf(Metric::kProvidersPerformance).path, "providers/performance");
}

}  // namespace
}  // namespace domain
