#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

#include "app/ports/event_store.hpp"
#include "base/clock.hpp"
#include "base/result.hpp"

namespace adapters::clickhouse {

/// Named SQL of the event store, shared by the embedded and server adapters. Every statement
/// names its database explicitly; none carries inline data.
std::string InsertEventsSql(std::string_view db);
/// (event_type as Int8, distinct ids), TabSeparated.
std::string CountEventsSql(std::string_view db);
/// EventColumnNames(), one row per id, ordered by (ts_ms, event_id), RowBinary.
std::string ReadEventsSql(std::string_view db, std::size_t limit);
/// (event_id, stored_at_ms) stored since `since`, RowBinary.
std::string RecentIdsSql(std::string_view db, base::TimePoint since);
std::string PingSql(std::string_view db);

/// Runs one statement and returns its output in the given format.
using Execute = std::function<base::Result<std::string>(const std::string& sql,
                                                        std::string_view format)>;

/// Applies the migrations newer than the recorded version, in order, recording each.
/// Returns the schema version now in force.
base::Result<std::uint32_t> Migrate(const Execute& execute, std::string_view db);

/// Parses CountEventsSql() output.
base::Result<app::EventCounts> ParseCounts(std::string_view tsv);

}  // namespace adapters::clickhouse
