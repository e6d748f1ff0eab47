#include "app/response_cache.hpp"

#include <gtest/gtest.h>

#include "domain/timestamp.hpp"

namespace app {
namespace {

using domain::Value;

base::TimePoint At(std::string_view iso) { return *domain::ParseIsoDateTime(iso); }

// An answer of `rows` rows like a daily series: a bucket label (on the heap) and one count.
domain::MetricResult Series(std::size_t rows) {
  domain::MetricResult r;
  for (std::size_t i = 0; i < rows; ++i) {
    Value row = Value::Object();
    row.Set("bucket", Value::String("2025-06-01T00:00:00+00:00")).Set("messages", Value::Int(1));
    r.data.items.push_back(std::move(row));
  }
  return r;
}

TEST(ResponseCacheTest, DropsExpiredEntriesAndBoundsTheirNumber) {
  base::FixedClock clock(At("2025-06-15T00:00:00Z"));
  ResponseCache cache(clock, std::chrono::seconds{30}, 4);
  const auto small = Series(3);
  cache.Put("a", small);
  EXPECT_TRUE(cache.Get("a").has_value());
  for (char c = 'a'; c < 'k'; ++c) {
    clock.Set(clock.Now() + std::chrono::milliseconds{1});
    cache.Put(std::string(2, c), small);
  }
  EXPECT_TRUE(cache.Get("jj").has_value());
  EXPECT_FALSE(cache.Get("aa").has_value());  // the oldest went first
  std::size_t kept = 0;
  for (char c = 'a'; c < 'k'; ++c) kept += cache.Get(std::string(2, c)).has_value() ? 1 : 0;
  EXPECT_EQ(kept, 4u);
  clock.Set(clock.Now() + std::chrono::seconds{30});
  EXPECT_FALSE(cache.Get("jj").has_value());
}

TEST(ResponseCacheTest, EstimateCountsEveryNodeAndLongString) {
  const auto one = ResponseCache::EstimateBytes(Series(1));
  const auto thousand = ResponseCache::EstimateBytes(Series(1000));
  // A row holds at least its object, two field values, two keys and a 25-byte label.
  const std::size_t row_floor = 3 * sizeof(Value) + 2 * sizeof(std::string) + 26;
  EXPECT_GE(thousand - one, 999 * row_floor);
  EXPECT_LT(thousand, 1000 * 4 * row_floor);
}

TEST(ResponseCacheTest, HoldsNoMoreBytesThanItsBound) {
  base::FixedClock clock(At("2025-06-15T00:00:00Z"));
  const auto answer = Series(100);
  const auto size = ResponseCache::EstimateBytes(answer);
  // Room for about ten such answers; each is below an eighth of the bound.
  const std::size_t max_bytes = 10 * size + size / 2;
  ResponseCache cache(clock, std::chrono::seconds{30}, 1000, max_bytes);
  for (int i = 0; i < 50; ++i) {
    clock.Set(clock.Now() + std::chrono::milliseconds{1});
    cache.Put("k" + std::to_string(i), answer);
    EXPECT_LE(cache.bytes(), max_bytes) << i;
  }
  EXPECT_GT(cache.bytes(), 8 * size);  // it is used, not emptied
  EXPECT_TRUE(cache.Get("k49").has_value());
  EXPECT_FALSE(cache.Get("k0").has_value());
}

TEST(ResponseCacheTest, AnswersAboveAnEighthOfTheBoundAreNotKept) {
  base::FixedClock clock(At("2025-06-15T00:00:00Z"));
  const auto big = Series(1000);
  const auto size = ResponseCache::EstimateBytes(big);
  ResponseCache cache(clock, std::chrono::seconds{30}, 1000, 8 * size);
  cache.Put("small", Series(10));
  cache.Put("big", big);
  EXPECT_FALSE(cache.Get("big").has_value());
  EXPECT_TRUE(cache.Get("small").has_value());
  ResponseCache roomy(clock, std::chrono::seconds{30}, 1000, 16 * size);
  roomy.Put("big", big);
  EXPECT_TRUE(roomy.Get("big").has_value());
  // The default bound (64 MiB) keeps no answer of 100,000 rows.
  ResponseCache defaults(clock, std::chrono::seconds{30});
  EXPECT_EQ(defaults.max_entry_bytes(), std::size_t{8} << 20);
  EXPECT_LT(defaults.max_entry_bytes(), ResponseCache::EstimateBytes(Series(100'000)));
}

TEST(ResponseCacheTest, ReplacingAnEntryReleasesItsBytes) {
  base::FixedClock clock(At("2025-06-15T00:00:00Z"));
  ResponseCache cache(clock, std::chrono::seconds{30});
  cache.Put("k", Series(100));
  const auto once = cache.bytes();
  cache.Put("k", Series(100));
  EXPECT_EQ(cache.bytes(), once);
  clock.Set(clock.Now() + std::chrono::seconds{31});
  EXPECT_FALSE(cache.Get("k").has_value());
  EXPECT_EQ(cache.bytes(), 0u);
}

}  // namespace
}  // namespace app
