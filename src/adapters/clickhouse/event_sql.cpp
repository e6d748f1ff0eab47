#include "adapters/clickhouse/event_sql.hpp"

#include <fmt/format.h>

#include <charconv>

#include "adapters/clickhouse/schema.hpp"
#include "base/log.hpp"
#include "domain/event.hpp"

namespace adapters::clickhouse {

std::string InsertEventsSql(std::string_view db) {
  return fmt::format("INSERT INTO `{}`.events ({})", db, EventColumnNames());
}

std::string CountEventsSql(std::string_view db) {
  return fmt::format(
      "SELECT toInt8(event_type), uniqExact(event_id) FROM `{}`.events GROUP BY event_type "
      "ORDER BY 1",
      db);
}

std::string ReadEventsSql(std::string_view db, std::size_t limit) {
  return fmt::format("SELECT {} FROM `{}`.events ORDER BY ts_ms, event_id LIMIT 1 BY event_id "
                     "LIMIT {}",
                     EventColumnNames(), db, limit);
}

std::string RecentIdsSql(std::string_view db, base::TimePoint since) {
  return fmt::format(
      "SELECT event_id, min(stored_at_ms) AS s FROM `{}`.events WHERE stored_at_ms >= {} "
      "GROUP BY event_id ORDER BY s",
      db, since.time_since_epoch().count());
}

std::string PingSql(std::string_view db) {
  return fmt::format("SELECT count() FROM system.tables WHERE database = '{}' AND name = 'events'",
                     db);
}

base::Result<std::uint32_t> Migrate(const Execute& execute, std::string_view db) {
  if (!IsValidDatabaseName(db)) {
    return base::Fail(base::Error::InvalidArgument(
        fmt::format("database name '{}' must be letters, digits and _", db), "CLICKHOUSE_DB"));
  }
  const std::string setup[] = {
      fmt::format("CREATE DATABASE IF NOT EXISTS `{}`", db),
      fmt::format("CREATE TABLE IF NOT EXISTS `{}`.schema_migrations (version UInt32, name String, "
                  "applied_at DateTime) ENGINE = MergeTree ORDER BY version",
                  db),
  };
  for (const auto& sql : setup) {
    if (auto r = execute(sql, "TabSeparated"); !r) return base::Fail(r.error());
  }
  auto current = execute(fmt::format("SELECT max(version) FROM `{}`.schema_migrations", db),
                         "TabSeparated");
  if (!current) return base::Fail(current.error());
  std::uint32_t version = 0;
  std::from_chars(current->data(), current->data() + current->size(), version);
  for (const auto& m : Migrations()) {
    if (m.version <= version) continue;
    base::log::Info("storage.migration_applying", {{"version", m.version}, {"name", m.name}});
    for (const auto statement : m.statements) {
      if (auto r = execute(Render(statement, db), "TabSeparated"); !r) {
        return base::Fail(base::Error::Internal(
            fmt::format("migration {} ({}) failed: {}", m.version, m.name, r.error().message)));
      }
    }
    if (auto r = execute(fmt::format("INSERT INTO `{}`.schema_migrations (version, name, "
                                     "applied_at) SELECT {}, '{}', now()",
                                     db, m.version, m.name),
                         "TabSeparated");
        !r) {
      return base::Fail(r.error());
    }
    version = m.version;
  }
  return version;
}

base::Result<app::EventCounts> ParseCounts(std::string_view tsv) {
  app::EventCounts counts;
  std::size_t pos = 0;
  while (pos < tsv.size()) {
    auto nl = tsv.find('\n', pos);
    if (nl == std::string_view::npos) nl = tsv.size();
    const auto line = tsv.substr(pos, nl - pos);
    pos = nl + 1;
    if (line.empty()) continue;
    const auto tab = line.find('\t');
    int type = 0;
    std::uint64_t n = 0;
    if (tab == std::string_view::npos ||
        std::from_chars(line.data(), line.data() + tab, type).ec != std::errc() ||
        std::from_chars(line.data() + tab + 1, line.data() + line.size(), n).ec != std::errc() ||
        type < 1 || type > static_cast<int>(domain::kEventTypeCount)) {
      return base::Fail(base::Error::Internal("unexpected count rows from storage"));
    }
    counts.by_type[static_cast<std::size_t>(type - 1)] = n;
    counts.total += n;
  }
  return counts;
}

}  // namespace adapters::clickhouse
