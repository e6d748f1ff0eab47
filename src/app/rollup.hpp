#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "app/ports/event_store.hpp"
#include "app/ports/rollup_metrics.hpp"
#include "app/ports/slot_facts.hpp"

namespace app {

/// The aggregates of one 15-minute slot, ids replaced by dense indices of the Rollup's
/// dictionaries so that distinct counts over many slots are array lookups. Immutable once built.
struct SlotData {
  std::int64_t slot = 0;
  struct Active {
    std::uint32_t user = 0;
    std::uint32_t first_off = 0, last_off = 0;  ///< ms from the slot start
  };
  std::vector<Active> active;
  struct Priced {
    bool has_cost = false, has_split = false;
    std::uint64_t messages = 0, tokens = 0, input_tokens = 0, output_tokens = 0;
    Units cost = 0;  ///< scale 9
  };
  struct Model {
    std::uint32_t provider = 0, model = 0;  ///< Rollup::Name ids
    std::vector<Priced> priced;
    std::vector<std::uint32_t> users, conversations;
    std::uint64_t latency_sum_ms = 0;
    std::vector<std::pair<std::uint32_t, std::uint64_t>> latency_bins;
  };
  std::vector<Model> models;
  struct Record {
    domain::EventType type = domain::EventType::kUserSignup;
    std::uint32_t user = 0;
    std::int64_t ts_ms = 0;
    std::string event_id, customer, plan, currency;  ///< as in SlotFacts::Record
    Units amount = 0;
  };
  std::vector<Record> records;
  std::uint64_t conversations_created = 0, conversations_deleted = 0;

  std::int64_t StartMs() const { return slot * kSlotMs; }
  bool IsEmpty() const {
    return active.empty() && models.empty() && records.empty() && conversations_created == 0 &&
           conversations_deleted == 0;
  }
  std::size_t Bytes() const;
};

using SlotPtr = std::shared_ptr<const SlotData>;

/// The query rollup: per-slot aggregates of the stored events, kept in memory and built from
/// deduplicated storage reads (never from the ingest stream, so a copy that reached storage is
/// collapsed exactly as the raw reads collapse it).
///
/// Freshness: every write is announced before and after it happens (a WriteObserver); each
/// announcement bumps the version of the slots it touches, and a slot counts as built only while
/// the version its data was read at is still current. A build read racing a write (before it,
/// during it, or seeing half of it) therefore leaves the slot stale until it is rebuilt, and
/// `Plan` hands stale, unbuilt and partial slots back as ranges to read from storage.
/// Only writes that go through the observer are seen (one writing process: the embedded engine,
/// or a single service writing to a server). Thread-safe.
class Rollup final : public WriteObserver {
 public:
  void BeforeWrite(std::span<const domain::Event> events) override;
  void AfterWrite(std::span<const domain::Event> events) override { BeforeWrite(events); }
  /// The slots of these timestamps are about to change.
  void MarkChanged(std::span<const std::int64_t> ts_ms);

  // --- building (RollupBuilder) ---
  bool IsInitialized() const;
  /// Starts building from what storage holds (`stored`: the span of its timestamps, nullopt
  /// when empty): slots before `frontier` outside that span hold no events, the span's slots
  /// are built newest first, and slots from `frontier` on as they close.
  void Initialize(std::optional<MsRange> stored, std::int64_t frontier);
  struct Work {
    std::vector<std::int64_t> slots;       ///< ascending
    std::vector<std::uint64_t> versions;   ///< the version each slot is read at
    std::vector<MsRange> Ranges() const;   ///< the slots as merged ranges
  };
  /// Up to `max_slots` slots to (re)build among those before `frontier` (changed ones first).
  Work NextWork(std::int64_t frontier, std::size_t max_slots);
  /// Installs what was read for `work` (a slot changed since stays stale).
  void Install(const Work& work, const SlotFacts& facts);
  /// A read for `work` failed: its slots are built again later.
  void Requeue(const Work& work);

  // --- querying (RollupAnalyticsStore) ---
  struct View {
    std::vector<SlotPtr> slots;    ///< built, non-empty slots fully inside the range, ascending
    std::vector<MsRange> missing;  ///< the rest of the range, to read from storage
    std::int64_t missing_ms = 0;
  };
  View Plan(std::int64_t start_ms, std::int64_t end_ms) const;
  /// Turns facts read from storage into slot data (ids join the dictionaries), ascending.
  std::vector<SlotPtr> Assemble(const SlotFacts& facts);
  /// Where stored events began at start-up (0 before the first build).
  std::int64_t DataStartMs() const;
  /// Where closed slots end (the largest instant before the first build).
  std::int64_t FrontierMs() const;
  std::string Name(std::uint32_t id) const;
  std::uint32_t NameId(std::string_view name);
  std::size_t UserCount() const;
  std::size_t ConversationCount() const;

  RollupState GetStats() const;

 private:
  struct Entry {
    std::uint64_t version = 0;        ///< bumped before every write into the slot
    std::uint64_t built_version = 0;  ///< the version `data` was read at
    SlotPtr data;                     ///< null: never built
    bool Valid() const { return data != nullptr && built_version == version; }
  };
  std::map<std::int64_t, SlotPtr> AssembleLocked(const SlotFacts& facts);
  std::uint32_t InternLocked(std::string_view name);

  mutable std::mutex mutex_;
  bool initialized_ = false;
  // Slots without an entry below lo_ and in [hi_, empty_until_) hold no events (every write
  // since start-up made an entry); [lo_, hi_) is what storage held at start-up.
  std::int64_t lo_ = 0, hi_ = 0, empty_until_ = 0;
  std::int64_t frontier_ = 0;   ///< first slot not yet closed when last asked
  std::int64_t backfill_ = 0;   ///< [lo_, backfill_) is still to be built the first time
  std::map<std::int64_t, Entry> entries_;
  std::set<std::int64_t> changed_;  ///< closed slots to rebuild
  std::size_t in_flight_ = 0;       ///< slots handed out by NextWork, not installed yet
  std::size_t bytes_ = 0;

  mutable std::mutex dict_mutex_;
  std::unordered_map<std::uint64_t, std::uint32_t> users_;
  std::unordered_map<std::uint64_t, std::uint32_t> conversations_;
  std::unordered_map<std::string, std::uint32_t> name_ids_;
  std::vector<std::string> names_;
};

}  // namespace app
