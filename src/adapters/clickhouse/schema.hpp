#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace adapters::clickhouse {

/// One versioned schema step. Statements are idempotent (IF NOT EXISTS ...) so a step cut short
/// by a crash is simply run again; `{db}` stands for the configured database name.
struct Migration {
  std::uint32_t version;
  std::string_view name;
  std::vector<std::string_view> statements;
};

/// Every migration, oldest first. The one schema of both storage forms (embedded chDB and a
/// ClickHouse server, 18.16 or current): only SQL that both accept.
const std::vector<Migration>& Migrations();

/// The columns of `events`, in RowBinary order, as `name Type` pairs.
std::string_view EventColumnsDdl();
/// The same column names, comma separated, for INSERT and SELECT lists.
std::string_view EventColumnNames();

/// `{db}` replaced by the quoted database name.
std::string Render(std::string_view statement, std::string_view database);

/// A database name is one identifier: letters, digits and `_`, not starting with a digit.
bool IsValidDatabaseName(std::string_view name);

}  // namespace adapters::clickhouse
