#include "domain/dedup_window.hpp"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <utility>

namespace domain {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;

const base::TimePoint kT0 = base::TimePoint(milliseconds(1'750'000'000'000));

TEST(KeyOf, IsStable) {
  EXPECT_EQ(KeyOf("evt-1"), KeyOf("evt-1"));
  EXPECT_EQ(KeyOf(""), KeyOf(""));
  const std::string owned = "evt-1";
  EXPECT_EQ(KeyOf(owned), KeyOf(std::string_view("evt-1-suffix").substr(0, 5)));
}

TEST(KeyOf, DistinctIdsGiveDistinctKeys) {
  EXPECT_NE(KeyOf("evt-1"), KeyOf("evt-2"));
  EXPECT_NE(KeyOf(""), KeyOf(std::string_view("\0", 1)));
  EXPECT_NE(KeyOf("a"), KeyOf("A"));
  std::set<std::pair<std::uint64_t, std::uint64_t>> seen;
  for (int i = 0; i < 10'000; ++i) {
    const auto key = KeyOf("event-" + std::to_string(i));
    EXPECT_TRUE(seen.insert({key.hi, key.lo}).second) << i;
  }
}

TEST(KeyOf, UsesBothHalves) {
  const auto key = KeyOf("evt-1");
  EXPECT_NE(key.hi, 0u);
  EXPECT_NE(key.lo, 0u);
  EXPECT_NE(key.hi, key.lo);
}

TEST(DedupWindow, StartsEmpty) {
  DedupWindow w(hours(1), 10);
  EXPECT_EQ(w.Size(), 0u);
  EXPECT_FALSE(w.Contains(KeyOf("a")));
}

TEST(DedupWindow, ContainsWhatWasInserted) {
  DedupWindow w(hours(1), 10);
  w.Insert(KeyOf("a"), kT0);
  w.Insert(KeyOf("b"), kT0);
  EXPECT_TRUE(w.Contains(KeyOf("a")));
  EXPECT_TRUE(w.Contains(KeyOf("b")));
  EXPECT_FALSE(w.Contains(KeyOf("c")));
  EXPECT_EQ(w.Size(), 2u);
}

TEST(DedupWindow, InsertingTwiceCountsOnce) {
  DedupWindow w(hours(1), 10);
  w.Insert(KeyOf("a"), kT0);
  w.Insert(KeyOf("a"), kT0 + minutes(1));
  EXPECT_EQ(w.Size(), 1u);
  EXPECT_TRUE(w.Contains(KeyOf("a")));
}

TEST(DedupWindow, ExpireDropsOnlyIdsOlderThanTheHorizon) {
  DedupWindow w(hours(1), 10);
  w.Insert(KeyOf("old"), kT0);
  w.Insert(KeyOf("newer"), kT0 + minutes(30));
  w.Expire(kT0 + hours(1));  // cutoff == kT0: not older yet
  EXPECT_TRUE(w.Contains(KeyOf("old")));
  w.Expire(kT0 + hours(1) + milliseconds(1));
  EXPECT_FALSE(w.Contains(KeyOf("old")));
  EXPECT_TRUE(w.Contains(KeyOf("newer")));
  EXPECT_EQ(w.Size(), 1u);
  w.Expire(kT0 + hours(1) + minutes(30));  // cutoff == the newer id's time
  EXPECT_TRUE(w.Contains(KeyOf("newer")));
  w.Expire(kT0 + hours(1) + minutes(30) + milliseconds(1));
  EXPECT_FALSE(w.Contains(KeyOf("newer")));
  EXPECT_EQ(w.Size(), 0u);
}

TEST(DedupWindow, ExpireBeforeTheHorizonKeepsEverything) {
  DedupWindow w(hours(24), 10);
  w.Insert(KeyOf("a"), kT0);
  w.Insert(KeyOf("b"), kT0 + hours(1));
  w.Expire(kT0 + hours(2));
  EXPECT_EQ(w.Size(), 2u);
}

TEST(DedupWindow, ExpiredIdCanBeInsertedAgain) {
  DedupWindow w(hours(1), 10);
  w.Insert(KeyOf("a"), kT0);
  w.Expire(kT0 + hours(2));
  ASSERT_FALSE(w.Contains(KeyOf("a")));
  w.Insert(KeyOf("a"), kT0 + hours(2));
  EXPECT_TRUE(w.Contains(KeyOf("a")));
  w.Expire(kT0 + hours(2) + minutes(59));
  EXPECT_TRUE(w.Contains(KeyOf("a")));
}

TEST(DedupWindow, MaxIdsEvictsTheOldestFirst) {
  DedupWindow w(hours(24), 3);
  w.Insert(KeyOf("a"), kT0);
  w.Insert(KeyOf("b"), kT0 + milliseconds(1));
  w.Insert(KeyOf("c"), kT0 + milliseconds(2));
  EXPECT_EQ(w.Size(), 3u);
  w.Insert(KeyOf("d"), kT0 + milliseconds(3));
  EXPECT_EQ(w.Size(), 3u);
  EXPECT_FALSE(w.Contains(KeyOf("a")));
  EXPECT_TRUE(w.Contains(KeyOf("b")));
  EXPECT_TRUE(w.Contains(KeyOf("c")));
  EXPECT_TRUE(w.Contains(KeyOf("d")));
  w.Insert(KeyOf("e"), kT0 + milliseconds(4));
  EXPECT_FALSE(w.Contains(KeyOf("b")));
  EXPECT_TRUE(w.Contains(KeyOf("e")));
}

TEST(DedupWindow, MaxIdsZeroRemembersNothing) {
  DedupWindow w(hours(24), 0);
  w.Insert(KeyOf("a"), kT0);
  EXPECT_EQ(w.Size(), 0u);
  EXPECT_FALSE(w.Contains(KeyOf("a")));
}

TEST(DedupWindow, ReinsertKeepsTheFirstTimeForExpiry) {
  DedupWindow w(hours(1), 10);
  w.Insert(KeyOf("a"), kT0);
  w.Insert(KeyOf("a"), kT0 + minutes(50));
  w.Expire(kT0 + hours(1) + milliseconds(1));
  EXPECT_FALSE(w.Contains(KeyOf("a")));
  EXPECT_EQ(w.Size(), 0u);
}

TEST(DedupWindow, ReinsertKeepsTheFirstPlaceForEviction) {
  DedupWindow w(hours(24), 2);
  w.Insert(KeyOf("a"), kT0);
  w.Insert(KeyOf("b"), kT0 + milliseconds(1));
  w.Insert(KeyOf("a"), kT0 + milliseconds(2));  // does not make "a" the newest
  w.Insert(KeyOf("c"), kT0 + milliseconds(3));
  EXPECT_FALSE(w.Contains(KeyOf("a")));
  EXPECT_TRUE(w.Contains(KeyOf("b")));
  EXPECT_TRUE(w.Contains(KeyOf("c")));
  EXPECT_EQ(w.Size(), 2u);
}

TEST(DedupWindow, ZeroHorizonRemembersNothingNotEvenTheLatestBatch) {
  DedupWindow w(milliseconds(0), 10);
  w.Insert(KeyOf("a"), kT0);
  EXPECT_FALSE(w.Contains(KeyOf("a")));
  w.Expire(kT0);
  EXPECT_EQ(w.Size(), 0u);
}

TEST(DedupWindow, ManyIdsStayFindable) {
  DedupWindow w(hours(24), 100'000);
  for (int i = 0; i < 50'000; ++i) w.Insert(KeyOf("id-" + std::to_string(i)), kT0);
  EXPECT_EQ(w.Size(), 50'000u);
  for (int i = 0; i < 50'000; i += 997) EXPECT_TRUE(w.Contains(KeyOf("id-" + std::to_string(i))));
  EXPECT_FALSE(w.Contains(KeyOf("id-50000")));
}

}  // namespace
}  // namespace domain
