#include "app/rate_limiter.hpp"

#include <gtest/gtest.h>

#include <deque>
#include <random>

namespace app {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using Instant = RateLimiter::Instant;

// A steady instant well away from zero, at a whole second plus `ms`.
Instant At(std::int64_t ms) { return Instant(milliseconds(1'000'000'000 + ms)); }

RateLimiter::Options Limits(std::uint32_t analytics) {
  RateLimiter::Options o;
  o.per_minute = {analytics, 1000, 5, 0};
  return o;
}

TEST(RateLimiter, AcceptsExactlyTheLimitInABurst) {
  RateLimiter limiter(Limits(100));
  int accepted = 0;
  for (int i = 0; i < 300; ++i) {
    const auto d = limiter.Admit(AccessClass::kAnalytics, "alice", At(i * 10));
    if (d.allowed) ++accepted;
    EXPECT_EQ(d.limit, 100u);
  }
  EXPECT_EQ(accepted, 100);
}

TEST(RateLimiter, RemainingCountsDownAndRefusalsSayWhenToRetry) {
  RateLimiter limiter(Limits(3));
  EXPECT_EQ(limiter.Admit(AccessClass::kAnalytics, "a", At(0)).remaining, 2u);
  EXPECT_EQ(limiter.Admit(AccessClass::kAnalytics, "a", At(100)).remaining, 1u);
  EXPECT_EQ(limiter.Admit(AccessClass::kAnalytics, "a", At(200)).remaining, 0u);
  const auto refused = limiter.Admit(AccessClass::kAnalytics, "a", At(300));
  EXPECT_FALSE(refused.allowed);
  EXPECT_EQ(refused.reason, RateLimiter::Reason::kLimited);
  EXPECT_EQ(refused.remaining, 0u);
  // All three were counted in second 0, which stops counting at 61 s: 60.7 s from 0.3 s,
  // rounded up.
  EXPECT_EQ(refused.reset, seconds(61));
}

TEST(RateLimiter, RetryAfterIsTruthful) {
  RateLimiter limiter(Limits(10));
  std::mt19937 rng(7);
  std::int64_t now = 0;
  int checked = 0;
  for (int i = 0; i < 2000; ++i) {
    now += std::uniform_int_distribution<int>(0, 9000)(rng);
    const auto d = limiter.Admit(AccessClass::kAnalytics, "p", At(now));
    if (d.allowed) continue;
    // Retrying exactly when told is accepted; a second earlier is still refused (refusals
    // count nothing, so the probe changes no state): the wait is not padded.
    const auto retry_at = now + std::chrono::duration_cast<milliseconds>(d.reset).count();
    if (d.reset > seconds(1)) {
      EXPECT_FALSE(limiter.Admit(AccessClass::kAnalytics, "p", At(retry_at - 1000)).allowed);
    }
    const auto accepted_later = limiter.Admit(AccessClass::kAnalytics, "p", At(retry_at));
    EXPECT_TRUE(accepted_later.allowed)
        << "at " << now << " told to wait " << d.reset.count() << " s";
    now = retry_at;
    ++checked;
  }
  EXPECT_GT(checked, 10);
}

TEST(RateLimiter, NeverMoreThanTheLimitInAnySixtySecondWindow) {
  const std::uint32_t limit = 20;
  RateLimiter limiter(Limits(limit));
  std::mt19937 rng(42);
  std::vector<std::int64_t> accepted;
  std::int64_t now = 0;
  for (int i = 0; i < 20000; ++i) {
    now += std::uniform_int_distribution<int>(0, 700)(rng);
    if (limiter.Admit(AccessClass::kAnalytics, "p", At(now)).allowed) accepted.push_back(now);
  }
  ASSERT_GT(accepted.size(), 500u);
  // Every half-open window [t, t + 60 s) starting at an accepted request.
  std::size_t j = 0;
  for (std::size_t i = 0; i < accepted.size(); ++i) {
    while (j < accepted.size() && accepted[j] < accepted[i] + 60'000) ++j;
    ASSERT_LE(j - i, limit) << "window starting at " << accepted[i];
  }
}

TEST(RateLimiter, AcceptsAgainOnceTheWindowHasMovedOn) {
  RateLimiter limiter(Limits(100));
  for (int i = 0; i < 150; ++i) limiter.Admit(AccessClass::kAnalytics, "a", At(i));
  EXPECT_FALSE(limiter.Admit(AccessClass::kAnalytics, "a", At(59'000)).allowed);
  EXPECT_TRUE(limiter.Admit(AccessClass::kAnalytics, "a", At(61'000)).allowed);
}

TEST(RateLimiter, PrincipalsAndClassesAreSeparate) {
  RateLimiter limiter(Limits(5));
  for (int i = 0; i < 5; ++i)
    EXPECT_TRUE(limiter.Admit(AccessClass::kAnalytics, "a", At(i)).allowed);
  EXPECT_FALSE(limiter.Admit(AccessClass::kAnalytics, "a", At(10)).allowed);
  EXPECT_TRUE(limiter.Admit(AccessClass::kAnalytics, "b", At(10)).allowed);
  EXPECT_TRUE(limiter.Admit(AccessClass::kIngest, "a", At(10)).allowed);
  // kAdmin is configured at 5 too, counted apart from kAnalytics.
  for (int i = 0; i < 5; ++i)
    EXPECT_TRUE(limiter.Admit(AccessClass::kAdmin, "a", At(20 + i)).allowed);
  EXPECT_FALSE(limiter.Admit(AccessClass::kAdmin, "a", At(30)).allowed);
}

TEST(RateLimiter, OverridesAndZeroMeanNoLimit) {
  auto options = Limits(2);
  options.overrides[{AccessClass::kAnalytics, "dashboard"}] = 4;
  options.overrides[{AccessClass::kAnalytics, "loadtest"}] = 0;
  RateLimiter limiter(options);
  int dashboard = 0, loadtest = 0, other = 0;
  for (int i = 0; i < 50; ++i) {
    dashboard += limiter.Admit(AccessClass::kAnalytics, "dashboard", At(i)).allowed ? 1 : 0;
    loadtest += limiter.Admit(AccessClass::kAnalytics, "loadtest", At(i)).allowed ? 1 : 0;
    other += limiter.Admit(AccessClass::kAnalytics, "other", At(i)).allowed ? 1 : 0;
  }
  EXPECT_EQ(dashboard, 4);
  EXPECT_EQ(loadtest, 50);
  EXPECT_EQ(other, 2);
  EXPECT_EQ(limiter.Admit(AccessClass::kAnalytics, "loadtest", At(60)).limit, 0u);
  // The metrics class is unlimited by default.
  EXPECT_EQ(limiter.Admit(AccessClass::kMetrics, "x", At(0)).limit, 0u);
}

TEST(RateLimiter, IdlePrincipalsAreForgottenAndTheTableIsBounded) {
  auto options = Limits(10);
  options.max_principals = 64;
  RateLimiter limiter(options);
  for (int i = 0; i < 10'000; ++i) {
    // A new principal each time, one per 20 ms: at most ~3,000 active in any minute.
    limiter.Admit(AccessClass::kAnalytics, "p" + std::to_string(i), At(i * 20));
  }
  EXPECT_LE(limiter.Tracked(AccessClass::kAnalytics), 64u);
  // Far later, every earlier principal is idle: new ones are all admitted.
  int admitted = 0;
  for (int i = 0; i < 64; ++i) {
    admitted +=
        limiter.Admit(AccessClass::kAnalytics, "q" + std::to_string(i), At(1'000'000)).allowed;
  }
  EXPECT_GE(admitted, 40);  // shards fill unevenly; most fit
}

TEST(RateLimiter, AFullTableOfActivePrincipalsRefusesNewOnes) {
  auto options = Limits(10);
  options.max_principals = 16;  // one per shard
  RateLimiter limiter(options);
  int refused_full = 0;
  for (int i = 0; i < 200; ++i) {
    const auto d = limiter.Admit(AccessClass::kAnalytics, "p" + std::to_string(i), At(i));
    if (!d.allowed) {
      EXPECT_EQ(d.reason, RateLimiter::Reason::kTableFull);
      EXPECT_EQ(d.reset, seconds(1));
      ++refused_full;
    }
  }
  EXPECT_GT(refused_full, 150);
  EXPECT_LE(limiter.Tracked(AccessClass::kAnalytics), 16u);
}

}  // namespace
}  // namespace app
