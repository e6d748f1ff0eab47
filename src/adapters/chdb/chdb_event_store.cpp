#include "adapters/chdb/chdb_event_store.hpp"

#include <fmt/format.h>

#include "adapters/clickhouse/event_sql.hpp"
#include "adapters/clickhouse/row_binary.hpp"
#include "adapters/clickhouse/schema.hpp"
#include "base/log.hpp"

namespace adapters::chdb {

namespace ch = adapters::clickhouse;

base::Result<std::unique_ptr<ChdbEventStore>> ChdbEventStore::Open(const Options& options,
                                                                   const base::Clock& clock) {
  if (!ch::IsValidDatabaseName(options.database)) {
    return base::Fail(base::Error::InvalidArgument(
        fmt::format("database name '{}' must be letters, digits and _", options.database),
        "CLICKHOUSE_DB"));
  }
  auto library = ChdbLibrary::Load(options.library_path);
  if (!library) return base::Fail(library.error());
  auto writer = ChdbConnection::Open(*library, options.data_dir);
  if (!writer) return base::Fail(writer.error());
  auto reader = ChdbConnection::Open(*library, options.data_dir);
  if (!reader) return base::Fail(reader.error());
  auto analytics = ChdbConnection::Open(*library, options.data_dir);
  if (!analytics) return base::Fail(analytics.error());
  auto background = ChdbConnection::Open(*library, options.data_dir);
  if (!background) return base::Fail(background.error());
  // Duplicates are dropped before the insert (ADR 0002), so the engine need not collapse them
  // again while writing each part; this roughly doubles the insert rate of 100k-row batches.
  if (auto r = (*writer)->Query("SET optimize_on_insert = 0", "TabSeparated"); !r) {
    return base::Fail(r.error());
  }
  base::log::Info("storage.opened", {{"engine", "chdb"},
                                     {"version", (*library)->Version()},
                                     {"path", options.data_dir}});
  return std::unique_ptr<ChdbEventStore>(new ChdbEventStore(
      options, clock, std::move(*library), std::move(*writer), std::move(*reader),
      std::move(*analytics), std::move(*background)));
}

ChdbEventStore::ChdbEventStore(Options options, const base::Clock& clock,
                               std::shared_ptr<ChdbLibrary> library,
                               std::unique_ptr<ChdbConnection> writer,
                               std::unique_ptr<ChdbConnection> reader,
                               std::unique_ptr<ChdbConnection> analytics,
                               std::unique_ptr<ChdbConnection> background)
    : options_(std::move(options)),
      clock_(clock),
      library_(std::move(library)),
      writer_(std::move(writer)),
      reader_(std::move(reader)),
      analytics_(std::move(analytics)),
      background_(std::move(background)),
      insert_sql_(ch::InsertEventsSql(options_.database)) {}

ChdbEventStore::~ChdbEventStore() { Close(); }

base::Status ChdbEventStore::Migrate() {
  auto version = ch::Migrate(
      [this](const std::string& sql, std::string_view format) { return writer_->Query(sql, format); },
      options_.database);
  if (!version) return base::Fail(version.error());
  migrated_ = true;
  base::log::Info("storage.schema_ready", {{"version", *version}});
  return {};
}

base::Status ChdbEventStore::Ping() {
  auto r = reader_->Query(ch::PingSql(options_.database), "TabSeparated");
  if (!r) return base::Fail(r.error());
  if (!migrated_ || r->empty() || (*r)[0] != '1') {
    return base::Fail(base::Error::Unavailable("schema not migrated"));
  }
  return {};
}

base::Status ChdbEventStore::Append(std::span<const domain::Event> events) {
  if (events.empty()) return {};
  std::string rows;
  rows.reserve(events.size() * 160);
  ch::EncodeEventsRowBinary(events, clock_.Now(), rows);
  return writer_->StreamInsert(insert_sql_, "RowBinary", rows);
}

base::Status ChdbEventStore::AppendRowBinary(std::string_view rows) {
  return writer_->StreamInsert(insert_sql_, "RowBinary", rows);
}

base::Result<std::vector<app::StoredId>> ChdbEventStore::RecentEventIds(base::TimePoint since) {
  auto data = reader_->Query(ch::RecentIdsSql(options_.database, since), "RowBinary");
  if (!data) return base::Fail(data.error());
  auto rows = ch::DecodeIdTimeRows(*data);
  if (!rows) return base::Fail(rows.error());
  std::vector<app::StoredId> out;
  out.reserve(rows->size());
  for (auto& [id, t] : *rows) out.push_back({std::move(id), t});
  return out;
}

base::Result<app::EventCounts> ChdbEventStore::CountEvents() {
  auto tsv = reader_->Query(ch::CountEventsSql(options_.database), "TabSeparated");
  if (!tsv) return base::Fail(tsv.error());
  return ch::ParseCounts(*tsv);
}

base::Result<std::vector<domain::Event>> ChdbEventStore::ReadEvents(std::size_t limit) {
  auto data = reader_->Query(ch::ReadEventsSql(options_.database, limit), "RowBinary");
  if (!data) return base::Fail(data.error());
  return ch::DecodeEventsRowBinary(*data);
}

base::Result<std::string> ChdbEventStore::Query(std::string_view sql, std::string_view format) {
  return analytics_->Query(sql, format);
}

base::Result<std::string> ChdbEventStore::BackgroundQuery(std::string_view sql,
                                                          std::string_view format) {
  return background_->Query(sql, format);
}

void ChdbEventStore::Close() {
  if (writer_) writer_->Close();
  if (reader_) reader_->Close();
  if (analytics_) analytics_->Close();
  if (background_) background_->Close();
}

}  // namespace adapters::chdb
