#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "app/ports/analytics_store.hpp"
#include "base/result.hpp"
#include "domain/event.hpp"

namespace app {

/// Rollup slots: 15 minutes of UTC time, numbered from the epoch. Every bucket boundary of every
/// zone since 1990 (hours of :30 and :45 zones, DST changes, local midnights) falls on a slot
/// boundary, so a slot belongs to exactly one bucket of any granularity in any zone.
inline constexpr std::int64_t kSlotMs = 15 * 60 * 1000;

inline std::int64_t SlotOf(std::int64_t ms) {
  return ms >= 0 ? ms / kSlotMs : -((-ms + kSlotMs - 1) / kSlotMs);
}

/// Latency histogram bins: one per millisecond below 128 ms, then 1% wide (bin k >= 128 holds
/// [128 * 1.01^(k-128), 128 * 1.01^(k-127))), so a percentile read from a bin is within 0.5% of
/// the exact value. The SQL computes the same function (sql::LatencyBin).
inline constexpr std::uint32_t kExactLatencyBins = 128;
std::uint32_t LatencyBin(std::uint32_t latency_ms);
/// The value reported for a bin: exact below 128 ms, else the bin's geometric middle.
double LatencyBinValue(std::uint32_t bin);

/// What a storage read of a time range yields for the rollup: per-slot aggregates of the
/// deduplicated events (each event id once, as every AnalyticsStore read), with the ids the
/// distinct counts need. `slot` is SlotOf(timestamp).
struct SlotFacts {
  /// One user's active events (any user.* or chat.* event) in one slot.
  struct Activity {
    std::int64_t slot = 0;
    std::uint64_t user_key = 0;
    std::int64_t first_ms = 0, last_ms = 0;
  };
  /// chat.message_sent sums of one (slot, provider, model) that share how they are priced.
  struct Priced {
    std::int64_t slot = 0;
    std::string provider, model;
    bool has_cost = false, has_split = false;
    std::uint64_t messages = 0, tokens = 0, input_tokens = 0, output_tokens = 0;
    Units cost = 0;  ///< scale 9
  };
  /// Distinct senders and conversations of one (slot, provider, model).
  struct Audience {
    std::int64_t slot = 0;
    std::string provider, model;
    std::vector<std::uint64_t> users, conversations;
  };
  /// Latency histogram of one (slot, provider, model), over messages carrying latencyMs.
  struct Latency {
    std::int64_t slot = 0;
    std::string provider, model;
    std::uint64_t sum_ms = 0;
    std::vector<std::pair<std::uint32_t, std::uint64_t>> bins;  ///< (bin, messages), ascending
  };
  /// An event of the few kinds kept whole: user.signup, user.plan_upgrade/downgrade and the
  /// billing events.
  struct Record {
    std::int64_t slot = 0;
    domain::EventType type = domain::EventType::kUserSignup;
    std::uint64_t user_key = 0;
    std::string user_id;   ///< billing events only (the customer)
    std::int64_t ts_ms = 0;
    std::string event_id;
    std::string plan;      ///< signup planTier, billing planId, or a plan change's toPlan
    std::string currency;
    Units amount = 0;      ///< scale 4
  };
  /// chat.conversation_created / _deleted in one slot.
  struct Conversations {
    std::int64_t slot = 0;
    std::uint64_t created = 0, deleted = 0;
  };
  std::vector<Activity> activity;
  std::vector<Priced> priced;
  std::vector<Audience> audience;
  std::vector<Latency> latency;
  std::vector<Record> records;
  std::vector<Conversations> conversations;
};

/// Which parts of SlotFacts a read needs (bit set).
enum FactKind : unsigned {
  kFactActivity = 1,
  kFactPriced = 2,
  kFactAudience = 4,
  kFactLatency = 8,
  kFactRecords = 16,
  kFactConversations = 32,
  kAllFacts = 63,
};

/// Half-open epoch-millisecond interval.
struct MsRange {
  std::int64_t start = 0, end = 0;
};

/// The storage reads the rollup is built from and completed with. Implementations run them as
/// ClickHouse SQL over `events FINAL`. Thread-safe; errors are kUnavailable/kInternal.
class SlotFactSource {
 public:
  virtual ~SlotFactSource() = default;
  /// Facts of the events with timestamps inside any of `ranges` (disjoint, ascending).
  virtual base::Result<SlotFacts> ReadFacts(std::span<const MsRange> ranges, unsigned kinds) = 0;
  /// [oldest, newest + 1 ms) of the stored events' timestamps, or nullopt when there are none.
  virtual base::Result<std::optional<MsRange>> StoredSpan() = 0;
};

}  // namespace app
