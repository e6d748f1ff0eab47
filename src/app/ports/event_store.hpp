#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "base/clock.hpp"
#include "base/result.hpp"
#include "domain/event.hpp"

namespace app {

/// An event id with the time its row was stored, for priming the dedup window.
struct StoredId {
  std::string event_id;
  base::TimePoint stored_at;
};

/// Events per type, each event id counted once.
struct EventCounts {
  std::uint64_t total = 0;
  std::array<std::uint64_t, domain::kEventTypeCount> by_type{};
};

/// Told about events just before they are written and again once the write is over (whether
/// it succeeded or not), so that whatever was derived from the stored rows of their time (the
/// query rollup) is not used while it may be missing them. Thread-safe; must not block for long
/// (it runs on the ingest writer thread).
class WriteObserver {
 public:
  virtual ~WriteObserver() = default;
  virtual void BeforeWrite(std::span<const domain::Event> events) = 0;
  virtual void AfterWrite(std::span<const domain::Event> events) = 0;
};

/// Where events live. Implementations: ChdbEventStore (embedded ClickHouse, the default) and a
/// ClickHouse server over HTTP. All of them pass tests/contract/event_store_contract.
///
/// Guarantees: `Append` returns success only once every event is durable (survives the process
/// being killed); on failure any subset may have been written, so the caller retries the whole
/// batch, and rows sharing an event id are never counted twice by any read (`CountEvents`,
/// `ReadEvents`, the analytics queries). Thread-safe: `Append` may run concurrently with reads.
class EventStore {
 public:
  virtual ~EventStore() = default;

  /// Creates or upgrades the schema to the newest version; idempotent.
  virtual base::Status Migrate() = 0;
  /// Storage reachable and schema current.
  virtual base::Status Ping() = 0;
  virtual base::Status Append(std::span<const domain::Event> events) = 0;
  /// Ids of rows stored at or after `since`, oldest first.
  virtual base::Result<std::vector<StoredId>> RecentEventIds(base::TimePoint since) = 0;
  virtual base::Result<EventCounts> CountEvents() = 0;
  /// Stored events ordered by (timestamp, event_id), one row per id; `limit` bounds the answer.
  virtual base::Result<std::vector<domain::Event>> ReadEvents(std::size_t limit) = 0;
  /// Flushes and releases the storage; further calls fail with kUnavailable.
  virtual void Close() = 0;
};

}  // namespace app
