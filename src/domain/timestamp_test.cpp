#include "domain/timestamp.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <string>

namespace domain {
namespace {

using namespace std::chrono;
using std::chrono_literals::operator""y;

base::TimePoint At(year_month_day ymd, hours h = hours(0), minutes m = minutes(0),
                   seconds s = seconds(0), milliseconds ms = milliseconds(0)) {
  return base::TimePoint(sys_days{ymd}) + h + m + s + ms;
}

TEST(ParseIsoDateTime, Utc) {
  const auto t = ParseIsoDateTime("2025-01-31T12:00:00Z");
  ASSERT_TRUE(t);
  EXPECT_EQ(*t, At(2025y / January / 31, hours(12)));
}

TEST(ParseIsoDateTime, PositiveOffsetWithColon) {
  const auto t = ParseIsoDateTime("2025-01-31T12:00:00+02:00");
  ASSERT_TRUE(t);
  EXPECT_EQ(*t, At(2025y / January / 31, hours(10)));
}

TEST(ParseIsoDateTime, NegativeOffsetWithoutColon) {
  const auto t = ParseIsoDateTime("2025-01-31T12:00:00-0530");
  ASSERT_TRUE(t);
  EXPECT_EQ(*t, At(2025y / January / 31, hours(17), minutes(30)));
}

TEST(ParseIsoDateTime, PositiveOffsetWithoutColon) {
  const auto t = ParseIsoDateTime("2025-01-31T12:00:00+0200");
  ASSERT_TRUE(t);
  EXPECT_EQ(*t, At(2025y / January / 31, hours(10)));
}

TEST(ParseIsoDateTime, ZeroOffsetsEqualZ) {
  const auto z = ParseIsoDateTime("2025-01-31T12:00:00Z");
  ASSERT_TRUE(z);
  EXPECT_EQ(ParseIsoDateTime("2025-01-31T12:00:00+00:00"), z);
  EXPECT_EQ(ParseIsoDateTime("2025-01-31T12:00:00-00:00"), z);
  EXPECT_EQ(ParseIsoDateTime("2025-01-31T12:00:00+0000"), z);
}

TEST(ParseIsoDateTime, OffsetCrossesTheDateAndYear) {
  const auto t = ParseIsoDateTime("2025-01-01T00:30:00+01:00");
  ASSERT_TRUE(t);
  EXPECT_EQ(*t, At(2024y / December / 31, hours(23), minutes(30)));
  EXPECT_EQ(FormatIsoUtc(*t), "2024-12-31T23:30:00.000Z");
}

TEST(ParseIsoDateTime, FractionsOfOneToNineDigitsAreTruncatedToMilliseconds) {
  const struct {
    const char* text;
    int millis;
  } cases[] = {
      {"2025-01-31T12:00:00.1Z", 100},         {"2025-01-31T12:00:00.12Z", 120},
      {"2025-01-31T12:00:00.123Z", 123},       {"2025-01-31T12:00:00.1234Z", 123},
      {"2025-01-31T12:00:00.12345Z", 123},     {"2025-01-31T12:00:00.123456Z", 123},
      {"2025-01-31T12:00:00.1234567Z", 123},   {"2025-01-31T12:00:00.12345678Z", 123},
      {"2025-01-31T12:00:00.123456789Z", 123}, {"2025-01-31T12:00:00.999999999Z", 999},
      {"2025-01-31T12:00:00.000000001Z", 0},   {"2025-01-31T12:00:00.5+02:00", 500},
  };
  for (const auto& c : cases) {
    const auto t = ParseIsoDateTime(c.text);
    ASSERT_TRUE(t) << c.text;
    const auto hour = std::string_view(c.text).ends_with("+02:00") ? hours(10) : hours(12);
    EXPECT_EQ(*t, At(2025y / January / 31, hour, minutes(0), seconds(0), milliseconds(c.millis)))
        << c.text;
  }
}

TEST(ParseIsoDateTime, FractionNeedsDigits) {
  EXPECT_FALSE(ParseIsoDateTime("2025-01-31T12:00:00.Z"));
  EXPECT_FALSE(ParseIsoDateTime("2025-01-31T12:00:00.+02:00"));
}

TEST(ParseIsoDateTime, MissingOffsetIsRejected) {
  EXPECT_FALSE(ParseIsoDateTime("2025-01-31T12:00:00"));
  EXPECT_FALSE(ParseIsoDateTime("2025-01-31T12:00:00.123"));
  EXPECT_FALSE(ParseIsoDateTime("2025-01-31T12:00:00.123456789"));
}

TEST(ParseIsoDateTime, IncompleteOffsetIsRejected) {
  EXPECT_FALSE(ParseIsoDateTime("2025-01-31T12:00:00+02"));
  EXPECT_FALSE(ParseIsoDateTime("2025-01-31T12:00:00+02:"));
  EXPECT_FALSE(ParseIsoDateTime("2025-01-31T12:00:00+2:00"));
  EXPECT_FALSE(ParseIsoDateTime("2025-01-31T12:00:00+"));
  EXPECT_FALSE(ParseIsoDateTime("2025-01-31T12:00:00UTC"));
}

TEST(ParseIsoDateTime, OutOfRangeOffsetIsRejected) {
  EXPECT_FALSE(ParseIsoDateTime("2025-01-31T12:00:00+24:00"));
  EXPECT_FALSE(ParseIsoDateTime("2025-01-31T12:00:00+02:60"));
}

TEST(ParseIsoDateTime, ImpossibleDatesAreRejected) {
  EXPECT_FALSE(ParseIsoDateTime("2025-02-30T00:00:00Z"));
  EXPECT_FALSE(ParseIsoDateTime("2025-02-29T00:00:00Z"));
  EXPECT_FALSE(ParseIsoDateTime("2025-04-31T00:00:00Z"));
  EXPECT_FALSE(ParseIsoDateTime("2025-13-01T00:00:00Z"));
  EXPECT_FALSE(ParseIsoDateTime("2025-00-10T00:00:00Z"));
  EXPECT_FALSE(ParseIsoDateTime("2025-01-00T00:00:00Z"));
  EXPECT_FALSE(ParseIsoDateTime("2025-01-32T00:00:00Z"));
  EXPECT_FALSE(ParseIsoDateTime("1900-02-29T00:00:00Z"));
}

TEST(ParseIsoDateTime, LeapDaysAreAccepted) {
  const auto t = ParseIsoDateTime("2024-02-29T08:15:00Z");
  ASSERT_TRUE(t);
  EXPECT_EQ(*t, At(2024y / February / 29, hours(8), minutes(15)));
  EXPECT_TRUE(ParseIsoDateTime("2000-02-29T00:00:00Z"));
}

TEST(ParseIsoDateTime, OutOfRangeTimeOfDayIsRejected) {
  EXPECT_FALSE(ParseIsoDateTime("2025-01-31T24:00:00Z"));
  EXPECT_FALSE(ParseIsoDateTime("2025-01-31T12:60:00Z"));
  EXPECT_FALSE(ParseIsoDateTime("2025-01-31T12:00:61Z"));
}

TEST(ParseIsoDateTime, LeapSecondFoldsIntoTheNextMinute) {
  const auto t = ParseIsoDateTime("2016-12-31T23:59:60Z");
  ASSERT_TRUE(t);
  EXPECT_EQ(*t, At(2017y / January / 1));
}

TEST(ParseIsoDateTime, TrailingGarbageIsRejected) {
  EXPECT_FALSE(ParseIsoDateTime("2025-01-31T12:00:00Zx"));
  EXPECT_FALSE(ParseIsoDateTime("2025-01-31T12:00:00Z "));
  EXPECT_FALSE(ParseIsoDateTime("2025-01-31T12:00:00+02:00 "));
  EXPECT_FALSE(ParseIsoDateTime("2025-01-31T12:00:00+02:000"));
  EXPECT_FALSE(ParseIsoDateTime("2025-01-31T12:00:00ZZ"));
  EXPECT_FALSE(ParseIsoDateTime(std::string_view("2025-01-31T12:00:00Z\0", 21)));
}

TEST(ParseIsoDateTime, MalformedShapesAreRejected) {
  EXPECT_FALSE(ParseIsoDateTime(""));
  EXPECT_FALSE(ParseIsoDateTime("2025"));
  EXPECT_FALSE(ParseIsoDateTime("2025-01-31"));
  EXPECT_FALSE(ParseIsoDateTime("2025-01-31Z"));
  EXPECT_FALSE(ParseIsoDateTime(" 2025-01-31T12:00:00Z"));
  EXPECT_FALSE(ParseIsoDateTime("2025/01/31T12:00:00Z"));
  EXPECT_FALSE(ParseIsoDateTime("2025-1-31T12:00:00Z"));
  EXPECT_FALSE(ParseIsoDateTime("2025-01-31X12:00:00Z"));
  EXPECT_FALSE(ParseIsoDateTime("2025-01-31T12.00.00Z"));
  EXPECT_FALSE(ParseIsoDateTime("2025-01-31T12:00Z"));
  EXPECT_FALSE(ParseIsoDateTime("20a5-01-31T12:00:00Z"));
  EXPECT_FALSE(ParseIsoDateTime("1748692800000"));
}

TEST(ParseIsoDateTime, LowercaseSeparatorAndZoneAreAccepted) {
  const auto lower = ParseIsoDateTime("2025-01-31t12:00:00z");
  ASSERT_TRUE(lower);
  EXPECT_EQ(*lower, At(2025y / January / 31, hours(12)));
  EXPECT_EQ(ParseIsoDateTime("2025-01-31T12:00:00z"), lower);
  EXPECT_EQ(ParseIsoDateTime("2025-01-31t12:00:00Z"), lower);
}

TEST(ParseIsoDateTime, SpaceSeparatorIsAccepted) {
  const auto t = ParseIsoDateTime("2025-01-31 07:00:00-0500");
  ASSERT_TRUE(t);
  EXPECT_EQ(*t, At(2025y / January / 31, hours(12)));
}

TEST(ParseIsoDateTime, CommaFractionIsAccepted) {
  const auto t = ParseIsoDateTime("2025-01-31T13:00:00,123+01:00");
  ASSERT_TRUE(t);
  EXPECT_EQ(*t, At(2025y / January / 31, hours(12), minutes(0), seconds(0), milliseconds(123)));
}

TEST(FormatIsoUtc, FormatsWithMillisecondsAndZ) {
  EXPECT_EQ(FormatIsoUtc(base::TimePoint{}), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(FormatIsoUtc(At(2025y / January / 31, hours(12), minutes(3), seconds(4),
                            milliseconds(5))),
            "2025-01-31T12:03:04.005Z");
  EXPECT_EQ(FormatIsoUtc(At(2024y / February / 29, hours(23), minutes(59), seconds(59),
                            milliseconds(999))),
            "2024-02-29T23:59:59.999Z");
}

TEST(FormatIsoUtc, BeforeTheEpoch) {
  EXPECT_EQ(FormatIsoUtc(base::TimePoint(milliseconds(-1))), "1969-12-31T23:59:59.999Z");
  EXPECT_EQ(FormatIsoUtc(At(1999y / December / 31, hours(23))), "1999-12-31T23:00:00.000Z");
}

TEST(IsoTimestamp, FormattedTextParsesBack) {
  const base::TimePoint points[] = {
      base::TimePoint{},
      At(2000y / January / 1),
      At(2024y / February / 29, hours(6), minutes(7), seconds(8), milliseconds(9)),
      At(2025y / December / 31, hours(23), minutes(59), seconds(59), milliseconds(999)),
      At(2038y / January / 19, hours(3), minutes(14), seconds(8)),
      base::TimePoint(milliseconds(1'748'692'800'123)),
  };
  for (const auto t : points) {
    const auto text = FormatIsoUtc(t);
    const auto back = ParseIsoDateTime(text);
    ASSERT_TRUE(back) << text;
    EXPECT_EQ(*back, t) << text;
  }
}

TEST(IsoTimestamp, CanonicalTextSurvivesARoundTrip) {
  for (const std::string text : {"2024-02-29T23:59:59.999Z", "2025-06-01T00:00:00.000Z",
                                 "1999-12-31T12:34:56.789Z"}) {
    const auto t = ParseIsoDateTime(text);
    ASSERT_TRUE(t) << text;
    EXPECT_EQ(FormatIsoUtc(*t), text);
  }
}

TEST(IsoTimestamp, OffsetTextFormatsAsUtc) {
  const auto t = ParseIsoDateTime("2025-01-31T12:00:00.250-05:30");
  ASSERT_TRUE(t);
  EXPECT_EQ(FormatIsoUtc(*t), "2025-01-31T17:30:00.250Z");
}

}  // namespace
}  // namespace domain
