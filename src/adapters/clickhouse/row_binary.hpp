#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/clock.hpp"
#include "base/result.hpp"
#include "domain/event.hpp"

namespace adapters::clickhouse {

/// Appends `events` to `out` as RowBinary rows in the column order of EventColumnNames(),
/// with `stored_at` as every row's stored_at_ms. Streamed, never inlined in SQL text.
void EncodeEventsRowBinary(std::span<const domain::Event> events, base::TimePoint stored_at,
                           std::string& out);

/// Decodes RowBinary rows of EventColumnNames() (the stored_at_ms column is read and dropped).
base::Result<std::vector<domain::Event>> DecodeEventsRowBinary(std::string_view data);

/// Reads RowBinary rows of (String, Int64): event ids with their stored time.
base::Result<std::vector<std::pair<std::string, base::TimePoint>>> DecodeIdTimeRows(
    std::string_view data);

}  // namespace adapters::clickhouse
