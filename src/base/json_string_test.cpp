#include "base/json_string.hpp"

#include <gtest/gtest.h>

namespace base {
namespace {

TEST(ValidUtf8, KeepsWellFormedText) {
  for (const std::string s : {"", "plain", "caf\xC3\xA9", "\xE2\x82\xAC", "\xF0\x9F\x98\x80",
                              "\xEF\xBF\xBD", "\xF4\x8F\xBF\xBF"}) {
    EXPECT_EQ(ValidUtf8(s), s);
  }
}

TEST(ValidUtf8, ReplacesEachBadByte) {
  const std::string r = "\xEF\xBF\xBD";
  EXPECT_EQ(ValidUtf8("/\xFF\xFE"), "/" + r + r);
  EXPECT_EQ(ValidUtf8("\xC0\xAF"), r + r) << "overlong '/'";
  EXPECT_EQ(ValidUtf8("\xE0\x80\xAF"), r + r + r) << "overlong, three bytes";
  EXPECT_EQ(ValidUtf8("\xED\xA0\x80"), r + r + r) << "a surrogate";
  EXPECT_EQ(ValidUtf8("\xF4\x90\x80\x80"), r + r + r + r) << "above U+10FFFF";
  EXPECT_EQ(ValidUtf8("ab\xC3"), "ab" + r) << "cut short";
  EXPECT_EQ(ValidUtf8("\xC3(x"), r + "(x");
}

TEST(AppendJsonString, EscapesQuotesAndControls) {
  std::string out;
  AppendJsonString(out, "a\"b\\c\n\x01");
  EXPECT_EQ(out, R"("a\"b\\c\n\u0001")");
}

}  // namespace
}  // namespace base
