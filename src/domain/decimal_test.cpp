#include "domain/decimal.hpp"

#include <gtest/gtest.h>

namespace domain {
namespace {

TEST(ParseDecimalTest, SignedExactAndBeyondSixtyFourBits) {
  EXPECT_EQ(ParseDecimal("-12.34", 4), Int128{-123'400});
  EXPECT_EQ(ParseDecimal("99999999999999999999", 0), Int128{99'999'999'999} * 1'000'000'000 + 999'999'999);
  EXPECT_FALSE(ParseDecimal("1.23456", 4).has_value());
  EXPECT_FALSE(ParseDecimal("-", 4).has_value());
  EXPECT_FALSE(ParseDecimal("1..2", 4).has_value());
}

TEST(DivideRoundedTest, HalfAwayFromZero) {
  EXPECT_EQ(DivideRounded(150, 100), 2);
  EXPECT_EQ(DivideRounded(149, 100), 1);
  EXPECT_EQ(DivideRounded(-150, 100), -2);
  EXPECT_EQ(DivideRounded(-149, 100), -1);
  EXPECT_EQ(DivideRounded(0, 7), 0);
}

}  // namespace
}  // namespace domain
