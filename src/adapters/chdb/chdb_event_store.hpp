#pragma once

#include <atomic>
#include <memory>
#include <string>

#include "adapters/chdb/chdb_library.hpp"
#include "app/ports/event_store.hpp"
#include "base/clock.hpp"

namespace adapters::chdb {

/// EventStore on the embedded ClickHouse engine (chDB) under one data directory. One writer
/// connection for Append, one reader connection for the store's own reads, one for `Query`
/// (the analytics reads) and one for `BackgroundQuery` (building the query rollup), so reads
/// never wait for an insert, readiness checks never wait behind a long analytics query, and
/// dashboards never wait behind a rollup build. Rows are streamed in RowBinary (never inline SQL data). Thread-safe.
class ChdbEventStore final : public app::EventStore {
 public:
  struct Options {
    std::string library_path;
    std::string data_dir;  ///< the engine's --path
    std::string database = "analytics";
  };

  static base::Result<std::unique_ptr<ChdbEventStore>> Open(const Options& options,
                                                            const base::Clock& clock);
  ~ChdbEventStore() override;

  base::Status Migrate() override;
  base::Status Ping() override;
  base::Status Append(std::span<const domain::Event> events) override;
  base::Result<std::vector<app::StoredId>> RecentEventIds(base::TimePoint since) override;
  base::Result<app::EventCounts> CountEvents() override;
  base::Result<std::vector<domain::Event>> ReadEvents(std::size_t limit) override;
  void Close() override;

  /// Runs a read-only statement on the analytics connection (analytics reads, benchmarks).
  base::Result<std::string> Query(std::string_view sql, std::string_view format);
  /// Runs a read-only statement on the background connection (the rollup builder).
  base::Result<std::string> BackgroundQuery(std::string_view sql, std::string_view format);
  /// Streams ready-made RowBinary rows into `events` (benchmark baseline).
  base::Status AppendRowBinary(std::string_view rows);

 private:
  ChdbEventStore(Options options, const base::Clock& clock, std::shared_ptr<ChdbLibrary> library,
                 std::unique_ptr<ChdbConnection> writer, std::unique_ptr<ChdbConnection> reader,
                 std::unique_ptr<ChdbConnection> analytics,
                 std::unique_ptr<ChdbConnection> background);

  Options options_;
  const base::Clock& clock_;
  std::shared_ptr<ChdbLibrary> library_;
  std::unique_ptr<ChdbConnection> writer_;
  std::unique_ptr<ChdbConnection> reader_;
  std::unique_ptr<ChdbConnection> analytics_;
  std::unique_ptr<ChdbConnection> background_;
  std::atomic<bool> migrated_{false};
  std::string insert_sql_;
};

}  // namespace adapters::chdb
