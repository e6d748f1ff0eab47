#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <string_view>

#include <boost/unordered/unordered_flat_set.hpp>

#include "base/clock.hpp"

namespace domain {

/// 128-bit fingerprint of an event id; collisions are negligible (~1e-20 at 1e9 ids).
struct IdKey {
  std::uint64_t hi = 0;
  std::uint64_t lo = 0;
  friend bool operator==(IdKey, IdKey) = default;
};

IdKey KeyOf(std::string_view event_id);

/// The ids of events stored recently, so that a redelivered copy is recognised before it is
/// written again. Bounded by age (`horizon`) and count (`max_ids`); oldest ids leave first.
/// A zero horizon (or `max_ids` 0) switches it off: it remembers nothing.
/// Not thread-safe: owned by the single writer of an ingest pipeline.
class DedupWindow {
 public:
  DedupWindow(std::chrono::milliseconds horizon, std::size_t max_ids);

  bool Contains(IdKey key) const;
  /// Records `key` as stored at `stored_at`; a key already present keeps its first time.
  void Insert(IdKey key, base::TimePoint stored_at);
  /// Drops ids older than `now - horizon` and beyond `max_ids`.
  void Expire(base::TimePoint now);
  std::size_t Size() const { return keys_.size(); }

 private:
  struct KeyHash {
    std::size_t operator()(IdKey k) const noexcept { return static_cast<std::size_t>(k.lo ^ (k.hi * 0x9E3779B97F4A7C15ULL)); }
  };
  std::chrono::milliseconds horizon_;
  std::size_t max_ids_;
  boost::unordered_flat_set<IdKey, KeyHash> keys_;
  std::deque<std::pair<base::TimePoint, IdKey>> order_;
};

}  // namespace domain
