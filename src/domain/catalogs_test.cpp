#include "domain/catalogs.hpp"

#include <gtest/gtest.h>

#include "domain/timestamp.hpp"

namespace domain {
namespace {

base::TimePoint At(std::string_view iso) { return *ParseIsoDateTime(iso); }

TEST(PlanCatalogTest, ListedPlansHaveTheirIntervalOthersOneMonth) {
  const auto c = PlanCatalog::Parse(
      R"({"plans": [{"id": "pro_yearly", "billingIntervalMonths": 12}, {"id": "pro", "billingIntervalMonths": 1}]})");
  ASSERT_TRUE(c.has_value()) << c.error().message;
  EXPECT_EQ(c->IntervalMonths("pro_yearly"), 12);
  EXPECT_EQ(c->IntervalMonths("pro"), 1);
  EXPECT_EQ(c->IntervalMonths("unknown"), 1);
}

TEST(PlanCatalogTest, RejectsBadEntries) {
  EXPECT_FALSE(PlanCatalog::Parse("not json").has_value());
  EXPECT_FALSE(PlanCatalog::Parse(R"({"plan": []})").has_value());
  EXPECT_FALSE(PlanCatalog::Parse(R"({"plans": [{"id": "x", "billingIntervalMonths": 5}]})").has_value());
  EXPECT_FALSE(PlanCatalog::Parse(R"({"plans": [{"id": "", "billingIntervalMonths": 1}]})").has_value());
  EXPECT_FALSE(PlanCatalog::Parse(R"({"plans": [{"id": "x"}]})").has_value());
}

TEST(PriceTableTest, AnEntryAppliesFromItsDateUntilTheNext) {
  const auto t = PriceTable::Parse(R"({"prices": [
    {"provider": "openai", "model": "gpt-4o", "effectiveFrom": "2024-10-01", "inputPerMillion": "2.50", "outputPerMillion": 10},
    {"provider": "openai", "model": "gpt-4o", "effectiveFrom": "2024-05-13", "inputPerMillion": "5", "outputPerMillion": "15"},
    {"provider": "acme", "model": "m1", "effectiveFrom": "2024-01-01", "blendedPerMillion": "0.000000001"}
  ]})");
  ASSERT_TRUE(t.has_value()) << t.error().message;
  EXPECT_EQ(t->At("openai", "gpt-4o", At("2024-05-12T23:59:59Z")), nullptr);
  EXPECT_EQ(*t->At("openai", "gpt-4o", At("2024-05-13T00:00:00Z"))->input_per_million, 5'000'000'000);
  EXPECT_EQ(*t->At("openai", "gpt-4o", At("2024-09-30T23:59:59Z"))->output_per_million, 15'000'000'000);
  EXPECT_EQ(*t->At("openai", "gpt-4o", At("2024-10-01T00:00:00Z"))->input_per_million, 2'500'000'000);
  EXPECT_EQ(*t->At("acme", "m1", At("2025-01-01T00:00:00Z"))->blended_per_million, 1);
  EXPECT_EQ(t->At("acme", "m2", At("2025-01-01T00:00:00Z")), nullptr);
  EXPECT_EQ(t->Breakpoints(), (std::vector<std::int64_t>{1704067200000, 1715558400000, 1727740800000}));
}

TEST(PriceTableTest, RejectsIncompleteOrAmbiguousEntries) {
  const auto bad = [](std::string_view entry) {
    return !PriceTable::Parse(std::string(R"({"prices": [)") + std::string(entry) + "]}").has_value();
  };
  EXPECT_TRUE(bad(R"({"provider": "a", "model": "b", "effectiveFrom": "2024-01-01"})"));
  EXPECT_TRUE(bad(R"({"provider": "a", "model": "b", "effectiveFrom": "2024-01-01", "inputPerMillion": 1})"));
  EXPECT_TRUE(bad(R"({"provider": "a", "model": "b", "effectiveFrom": "2024-01-01T00:00:00Z", "blendedPerMillion": 1})"));
  EXPECT_TRUE(bad(R"({"provider": "a", "model": "b", "effectiveFrom": "2024-01-01", "blendedPerMillion": "-1"})"));
  EXPECT_TRUE(bad(R"({"model": "b", "effectiveFrom": "2024-01-01", "blendedPerMillion": 1})"));
  EXPECT_TRUE(bad(R"({"provider": "a", "model": "b", "effectiveFrom": "2024-01-01", "blendedPerMillion": 1},
                     {"provider": "a", "model": "b", "effectiveFrom": "2024-01-01", "blendedPerMillion": 2})"));
}

TEST(ParseDecimalUnitsTest, ExactWithinTheScale) {
  EXPECT_EQ(ParseDecimalUnits("2.50", 9), 2'500'000'000);
  EXPECT_EQ(ParseDecimalUnits(".5", 2), 50);
  EXPECT_EQ(ParseDecimalUnits("7", 0), 7);
  EXPECT_EQ(ParseDecimalUnits("1.2300", 2), 123);
  EXPECT_FALSE(ParseDecimalUnits("1.234", 2).has_value());
  EXPECT_FALSE(ParseDecimalUnits("", 2).has_value());
  EXPECT_FALSE(ParseDecimalUnits("1e3", 2).has_value());
  EXPECT_FALSE(ParseDecimalUnits("99999999999999999999", 2).has_value());
}

}  // namespace
}  // namespace domain
