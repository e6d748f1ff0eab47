#include "app/rollup.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <limits>

#include "app/rollup_builder.hpp"
#include "app/rollup_store.hpp"
#include "app/testing/fake_analytics_store.hpp"

namespace app {
namespace {

constexpr std::int64_t kDay = 96;  // slots
const std::int64_t kBase = 20'000 * kDay;  // 2024-10-04, a slot number

std::int64_t StartOf(std::int64_t slot) { return slot * kSlotMs; }
base::TimePoint At(std::int64_t ms) { return base::TimePoint(std::chrono::milliseconds(ms)); }

// Facts of whole slots, scripted by the test; a read returns those inside the ranges and the
// ranges it was asked for.
class FakeFactSource final : public SlotFactSource {
 public:
  SlotFacts facts;
  std::vector<std::vector<MsRange>> reads;

  std::int64_t fail_above_ms = std::numeric_limits<std::int64_t>::max();

  base::Result<SlotFacts> ReadFacts(std::span<const MsRange> ranges, unsigned) override {
    reads.emplace_back(ranges.begin(), ranges.end());
    std::int64_t total = 0;
    for (const auto& r : ranges) total += r.end - r.start;
    if (total > fail_above_ms) return base::Fail(base::Error::Unavailable("Code: 159. timeout"));
    const auto inside = [&](std::int64_t ms) {
      return std::ranges::any_of(ranges, [&](const MsRange& r) { return ms >= r.start && ms < r.end; });
    };
    SlotFacts out;
    for (const auto& a : facts.activity) {
      if (inside(a.first_ms)) out.activity.push_back(a);
    }
    for (const auto& p : facts.priced) {
      if (inside(StartOf(p.slot))) out.priced.push_back(p);
    }
    for (const auto& a : facts.audience) {
      if (inside(StartOf(a.slot))) out.audience.push_back(a);
    }
    for (const auto& l : facts.latency) {
      if (inside(StartOf(l.slot))) out.latency.push_back(l);
    }
    for (const auto& r : facts.records) {
      if (inside(r.ts_ms)) out.records.push_back(r);
    }
    return out;
  }
  base::Result<std::optional<MsRange>> StoredSpan() override {
    return std::optional<MsRange>{MsRange{StartOf(kBase), StartOf(kBase + 2 * kDay)}};
  }
};

Rollup::Work BuildEverything(Rollup& rollup, FakeFactSource& source, std::int64_t frontier) {
  Rollup::Work all;
  for (;;) {
    auto work = rollup.NextWork(frontier, 1000);
    if (work.slots.empty()) return all;
    std::vector<MsRange> ranges = work.Ranges();
    rollup.Install(work, *source.ReadFacts(ranges, kAllFacts));
    all.slots.insert(all.slots.end(), work.slots.begin(), work.slots.end());
  }
}

TEST(RollupTest, NothingCountsAsBuiltBeforeTheFirstBuild) {
  Rollup rollup;
  const auto view = rollup.Plan(StartOf(kBase), StartOf(kBase + 4));
  EXPECT_TRUE(view.slots.empty());
  EXPECT_EQ(view.missing_ms, 4 * kSlotMs);
}

TEST(RollupTest, PlansBuiltSlotsFromMemoryAndTheRestFromStorage) {
  Rollup rollup;
  FakeFactSource source;
  source.facts.activity = {{kBase + 5, 1, StartOf(kBase + 5) + 10, StartOf(kBase + 5) + 20},
                           {kBase + 7, 2, StartOf(kBase + 7), StartOf(kBase + 7)}};
  const auto frontier = kBase + 3 * kDay;
  rollup.Initialize(MsRange{StartOf(kBase), StartOf(kBase + 2 * kDay)}, frontier);
  BuildEverything(rollup, source, frontier);

  // Whole built slots: from memory; only slots with events are handed out.
  auto view = rollup.Plan(StartOf(kBase), StartOf(kBase + 10));
  EXPECT_EQ(view.missing_ms, 0);
  ASSERT_EQ(view.slots.size(), 2u);
  EXPECT_EQ(view.slots[0]->slot, kBase + 5);
  EXPECT_EQ(view.slots[0]->active[0].first_off, 10u);
  EXPECT_EQ(view.slots[0]->active[0].last_off, 20u);

  // Partial slots at both edges are read from storage.
  view = rollup.Plan(StartOf(kBase + 1) + 123, StartOf(kBase + 9) + 1);
  ASSERT_EQ(view.missing.size(), 2u);
  EXPECT_EQ(view.missing[0].start, StartOf(kBase + 1) + 123);
  EXPECT_EQ(view.missing[0].end, StartOf(kBase + 2));
  EXPECT_EQ(view.missing[1].start, StartOf(kBase + 9));
  EXPECT_EQ(view.missing[1].end, StartOf(kBase + 9) + 1);

  // Before the stored span and between its end and the frontier: no events, nothing to read.
  EXPECT_EQ(rollup.Plan(StartOf(kBase - 50), StartOf(kBase)).missing_ms, 0);
  EXPECT_EQ(rollup.Plan(StartOf(kBase + 2 * kDay), StartOf(frontier)).missing_ms, 0);
  // From the frontier on: not closed, read from storage.
  EXPECT_EQ(rollup.Plan(StartOf(frontier - 1), StartOf(frontier + 2)).missing_ms, 2 * kSlotMs);
}

TEST(RollupTest, AWriteRacingABuildLeavesTheSlotStaleUntilRebuilt) {
  Rollup rollup;
  FakeFactSource source;
  const auto frontier = kBase + 3 * kDay;
  rollup.Initialize(MsRange{StartOf(kBase), StartOf(kBase + 2 * kDay)}, frontier);
  BuildEverything(rollup, source, frontier);
  const std::int64_t late = StartOf(kBase + 40) + 5;
  rollup.MarkChanged(std::span(&late, 1));
  EXPECT_EQ(rollup.Plan(StartOf(kBase + 40), StartOf(kBase + 41)).missing_ms, kSlotMs);

  // The rebuild reads the slot, but another write lands before it installs.
  auto work = rollup.NextWork(frontier, 10);
  ASSERT_EQ(work.slots, std::vector<std::int64_t>{kBase + 40});
  rollup.MarkChanged(std::span(&late, 1));
  rollup.Install(work, SlotFacts{});
  EXPECT_EQ(rollup.Plan(StartOf(kBase + 40), StartOf(kBase + 41)).missing_ms, kSlotMs);

  // The rebuild reads the slot while a write is under way (announced, not yet visible): the
  // announcement after the write makes what was read stale.
  domain::Event event;
  event.timestamp = At(late);
  rollup.BeforeWrite(std::span(&event, 1));
  work = rollup.NextWork(frontier, 10);
  rollup.AfterWrite(std::span(&event, 1));
  rollup.Install(work, SlotFacts{});
  EXPECT_EQ(rollup.Plan(StartOf(kBase + 40), StartOf(kBase + 41)).missing_ms, kSlotMs);

  work = rollup.NextWork(frontier, 10);
  ASSERT_EQ(work.slots, std::vector<std::int64_t>{kBase + 40});
  rollup.Install(work, SlotFacts{});
  EXPECT_EQ(rollup.Plan(StartOf(kBase + 40), StartOf(kBase + 41)).missing_ms, 0);
  EXPECT_TRUE(rollup.NextWork(frontier, 10).slots.empty());
}

TEST(RollupTest, BuildsChangedSlotsFirstNewestFirstAndSlotsAsTheyClose) {
  Rollup rollup;
  FakeFactSource source;
  const auto frontier = kBase + 3 * kDay;
  rollup.Initialize(MsRange{StartOf(kBase), StartOf(kBase + 2 * kDay)}, frontier);
  const std::int64_t changed[] = {StartOf(kBase + 2), StartOf(kBase + 2 * kDay + 10)};
  rollup.MarkChanged(changed);
  auto work = rollup.NextWork(frontier, 10);
  EXPECT_EQ(work.slots, (std::vector<std::int64_t>{kBase + 2, kBase + 2 * kDay + 10}));
  work = rollup.NextWork(frontier, 10);  // then the stored span, newest first
  EXPECT_EQ(work.slots.front(), kBase + 2 * kDay - 10);
  EXPECT_EQ(work.slots.back(), kBase + 2 * kDay - 1);
  BuildEverything(rollup, source, frontier);
  EXPECT_TRUE(rollup.GetStats().backfilled);
  work = rollup.NextWork(frontier + 2, 10);
  EXPECT_EQ(work.slots, (std::vector<std::int64_t>{frontier, frontier + 1}));
}

TEST(RollupTest, TheBuilderShrinksItsReadsAfterAFailureAndStillBuildsEverything) {
  Rollup rollup;
  FakeFactSource source;
  source.fail_above_ms = 10 * kSlotMs;  // say, a day of slots runs out of time
  base::FixedClock clock(At(StartOf(kBase + 3 * kDay)));
  RollupBuilder builder(rollup, source, clock, {});
  int failures = 0;
  while (!builder.BuildAll() && failures < 20) ++failures;
  EXPECT_GE(failures, 1);
  EXPECT_LT(failures, 20);
  const auto state = rollup.GetStats();
  EXPECT_TRUE(state.backfilled);
  EXPECT_EQ(state.pending_slots, 0u);
  EXPECT_EQ(rollup.Plan(StartOf(kBase), StartOf(kBase + 2 * kDay)).missing_ms, 0);
}

TEST(RollupTest, LatencyBinsAreWithinHalfAPercent) {
  for (std::uint32_t v = 0; v < 128; ++v) EXPECT_EQ(LatencyBinValue(LatencyBin(v)), v);
  for (std::uint32_t v = 128; v < 5'000'000; v = v + 1 + v / 97) {
    const double got = LatencyBinValue(LatencyBin(v));
    EXPECT_NEAR(got, v, 0.005 * v + 1e-6) << v;
  }
}

class RollupStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    rollup.Initialize(MsRange{StartOf(kBase), StartOf(kBase + 2 * kDay)}, kBase + 3 * kDay);
  }
  void Build() { BuildEverything(rollup, source, kBase + 3 * kDay); }
  static SlotFacts::Activity Act(std::int64_t slot, std::uint64_t user, std::int64_t first_min,
                                 std::int64_t last_min) {
    return {slot, user, StartOf(kBase) + first_min * 60'000, StartOf(kBase) + last_min * 60'000};
  }

  Rollup rollup;
  FakeFactSource source;
  testing::FakeAnalyticsStore raw;
  RollupAnalyticsStore store{raw, source, rollup, {}};
  domain::TimeZone utc = domain::TimeZone::Utc();
  Bucketing hours{domain::Granularity::kHour, &utc};
};

TEST_F(RollupStoreTest, UsesTheRawReadWhileMostOfTheRangeIsNotBuilt) {
  raw.active_users = {{42, 7}};
  const domain::TimeRange range{At(StartOf(kBase)), At(StartOf(kBase + 8))};
  auto answer = store.ActiveUsers(range, hours);
  ASSERT_TRUE(answer.has_value());
  EXPECT_EQ(answer->size(), 1u);
  EXPECT_EQ(raw.calls, 1);
  EXPECT_TRUE(source.reads.empty());
}

TEST_F(RollupStoreTest, CountsDistinctUsersPerBucketAcrossBuiltAndStorageSlots) {
  // Hour 0: users 1, 2 (user 1 in two slots); hour 1: user 1; the last slot is read from
  // storage because the range ends inside it.
  source.facts.activity = {Act(kBase, 1, 0, 1), Act(kBase, 2, 3, 3), Act(kBase + 2, 1, 30, 31),
                           Act(kBase + 4, 1, 60, 61), Act(kBase + 7, 3, 105, 105)};
  Build();
  source.reads.clear();
  const domain::TimeRange range{At(StartOf(kBase)), At(StartOf(kBase + 7) + 1)};
  auto answer = store.ActiveUsers(range, hours);
  ASSERT_TRUE(answer.has_value());
  ASSERT_EQ(answer->size(), 2u);
  EXPECT_EQ((*answer)[0].count, 2u);
  EXPECT_EQ((*answer)[1].count, 2u);  // users 1 and 3
  EXPECT_EQ(raw.calls, 0);
  ASSERT_EQ(source.reads.size(), 1u);
  EXPECT_EQ(source.reads[0][0].start, StartOf(kBase + 7));
}

TEST_F(RollupStoreTest, ARangeMostlyInTheFutureStillUsesTheRollup) {
  source.facts.activity = {Act(kBase + 2 * kDay - 1, 1, 2865, 2866)};
  Build();
  source.reads.clear();
  // The last stored hour, a day known to be empty, and a week after the frontier.
  const domain::TimeRange range{At(StartOf(kBase + 2 * kDay - 4)), At(StartOf(kBase + 10 * kDay))};
  auto answer = store.ActiveUsers(range, hours);
  ASSERT_TRUE(answer.has_value());
  ASSERT_EQ(answer->size(), 1u);
  EXPECT_EQ(raw.calls, 0);
  ASSERT_EQ(source.reads.size(), 1u);
  EXPECT_EQ(source.reads.back()[0].start, StartOf(kBase + 3 * kDay));
}

TEST_F(RollupStoreTest, SplitsSessionsOnlyOnGapsLongerThanTheGapAcrossSlots) {
  // User 1: 0-10 min, 35-40 (gap 25: same session), 80-85 (gap 40: new). User 2: 200-200.
  source.facts.activity = {Act(kBase, 1, 0, 10), Act(kBase + 2, 1, 35, 40),
                           Act(kBase + 5, 1, 80, 85), Act(kBase + 13, 2, 200, 200)};
  Build();
  const domain::TimeRange range{At(StartOf(kBase)), At(StartOf(kBase + 16))};
  auto answer = store.Sessions(range, hours, std::chrono::minutes(30));
  ASSERT_TRUE(answer.has_value());
  ASSERT_EQ(answer->size(), 4u);
  const auto& total = (*answer)[0];
  EXPECT_FALSE(total.bucket_ms.has_value());
  EXPECT_EQ(total.sessions, 3u);
  EXPECT_EQ(total.total_duration_ms, (40 + 5 + 0) * 60'000);
  EXPECT_DOUBLE_EQ(total.median_duration_ms, 5 * 60'000);
  EXPECT_EQ((*answer)[1].bucket_ms, StartOf(kBase));
  EXPECT_EQ((*answer)[2].bucket_ms, StartOf(kBase + 4));
  EXPECT_EQ((*answer)[3].bucket_ms, StartOf(kBase + 12));
  // A gap shorter than a slot cannot be answered from slots: the raw read answers.
  EXPECT_EQ(raw.calls, 0);
  ASSERT_TRUE(store.Sessions(range, hours, std::chrono::minutes(10)).has_value());
  EXPECT_EQ(raw.calls, 1);
}

TEST_F(RollupStoreTest, MergesMessagesPricesAndLatencyHistograms) {
  source.facts.activity = {Act(kBase, 1, 0, 1), Act(kBase + 1, 2, 15, 16)};
  source.facts.priced = {{kBase, "openai", "gpt-4o", false, true, 2, 30, 10, 20, 0},
                         {kBase + 1, "openai", "gpt-4o", true, false, 1, 5, 0, 0, 7}};
  source.facts.audience = {{kBase, "openai", "gpt-4o", {1}, {100}},
                           {kBase + 1, "openai", "gpt-4o", {2, 1}, {100}}};
  source.facts.latency = {{kBase, "openai", "gpt-4o", 300, {{LatencyBin(100), 1}, {LatencyBin(200), 1}}}};
  Build();
  const domain::TimeRange range{At(StartOf(kBase)), At(StartOf(kBase + 4))};
  MessageGrouping g;
  g.by_provider = g.distinct_users = g.distinct_conversations = true;
  auto messages = store.Messages(range, g);
  ASSERT_TRUE(messages.has_value());
  ASSERT_EQ(messages->size(), 1u);
  EXPECT_EQ((*messages)[0].provider, "openai");
  EXPECT_EQ((*messages)[0].model, "");
  EXPECT_EQ((*messages)[0].messages, 3u);
  EXPECT_EQ((*messages)[0].tokens, 35u);
  EXPECT_EQ((*messages)[0].users, 2u);
  EXPECT_EQ((*messages)[0].conversations, 1u);

  auto costs = store.CostGroups(range, {}, {StartOf(kBase + 1)});
  ASSERT_TRUE(costs.has_value());
  ASSERT_EQ(costs->size(), 2u);
  EXPECT_EQ((*costs)[0].epoch, 0u);
  EXPECT_TRUE((*costs)[0].has_split);
  EXPECT_EQ((*costs)[1].epoch, 1u);
  EXPECT_EQ((*costs)[1].cost, 7);
  // A price change inside a slot cannot be split from slots: the raw read answers.
  ASSERT_TRUE(store.CostGroups(range, {}, {StartOf(kBase + 1) + 1}).has_value());
  EXPECT_EQ(raw.calls, 1);

  auto latency = store.Latencies(range, true);
  ASSERT_TRUE(latency.has_value());
  ASSERT_EQ(latency->size(), 1u);
  EXPECT_EQ((*latency)[0].messages, 2u);
  EXPECT_DOUBLE_EQ((*latency)[0].avg_ms, 150);
  // Rank floor(q x n) of [100, 200]: 200 for the median, read from its 1% bin.
  EXPECT_NEAR((*latency)[0].p50_ms, 200, 1);
  EXPECT_NEAR((*latency)[0].p99_ms, 200, 1);
}

}  // namespace
}  // namespace app
