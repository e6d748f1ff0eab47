#include "adapters/clickhouse/schema.hpp"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "domain/event.hpp"

namespace adapters::clickhouse {
namespace {

/// Splits on commas outside parentheses and quotes, trimming spaces.
std::vector<std::string> SplitTopLevel(std::string_view text) {
  std::vector<std::string> parts;
  std::string current;
  int depth = 0;
  bool quoted = false;
  for (char c : text) {
    if (c == '\'') quoted = !quoted;
    if (!quoted && c == '(') ++depth;
    if (!quoted && c == ')') --depth;
    if (!quoted && depth == 0 && c == ',') {
      parts.push_back(current);
      current.clear();
      continue;
    }
    current.push_back(c);
  }
  parts.push_back(current);
  for (auto& p : parts) {
    const auto first = p.find_first_not_of(' ');
    const auto last = p.find_last_not_of(' ');
    p = first == std::string::npos ? "" : p.substr(first, last - first + 1);
  }
  return parts;
}

std::vector<std::string> DdlColumnNames() {
  std::vector<std::string> names;
  for (const auto& column : SplitTopLevel(EventColumnsDdl())) {
    names.push_back(column.substr(0, column.find(' ')));
  }
  return names;
}

TEST(Render, ReplacesEveryPlaceholderWithTheQuotedName) {
  EXPECT_EQ(Render("CREATE DATABASE IF NOT EXISTS {db}", "analytics"),
            "CREATE DATABASE IF NOT EXISTS `analytics`");
  EXPECT_EQ(Render("INSERT INTO {db}.events SELECT * FROM {db}.staging", "a_1"),
            "INSERT INTO `a_1`.events SELECT * FROM `a_1`.staging");
  EXPECT_EQ(Render("{db}{db}", "x"), "`x``x`");
  EXPECT_EQ(Render("{db}", "x"), "`x`");
}

TEST(Render, LeavesOtherTextAlone) {
  EXPECT_EQ(Render("SELECT 1", "analytics"), "SELECT 1");
  EXPECT_EQ(Render("", "analytics"), "");
  EXPECT_EQ(Render("{db {DB} db} {d}b", "analytics"), "{db {DB} db} {d}b");
  EXPECT_EQ(Render("{{db}}", "x"), "{`x`}");
}

TEST(Render, EveryMigrationStatementRendersWithoutPlaceholders) {
  for (const auto& m : Migrations()) {
    for (const auto statement : m.statements) {
      const auto sql = Render(statement, "analytics_test");
      EXPECT_EQ(sql.find("{db}"), std::string::npos) << sql;
      EXPECT_NE(sql.find("`analytics_test`."), std::string::npos) << sql;
    }
  }
}

TEST(IsValidDatabaseName, AcceptsIdentifiers) {
  for (const char* name : {"analytics", "Analytics_2", "_private", "a", "A1_b2_C3"}) {
    EXPECT_TRUE(IsValidDatabaseName(name)) << name;
  }
  EXPECT_TRUE(IsValidDatabaseName(std::string(64, 'a')));
}

TEST(IsValidDatabaseName, RefusesEverythingElse) {
  for (const char* name : {"", "1abc", "9", "a-b", "a b", "a`b", "a.b", "a;b", "db`; DROP TABLE x",
                           "analytics\n", "ünicode", "a'b", "a\"b", "{db}"}) {
    EXPECT_FALSE(IsValidDatabaseName(name)) << name;
  }
  EXPECT_FALSE(IsValidDatabaseName(std::string(65, 'a')));
  EXPECT_FALSE(IsValidDatabaseName(std::string_view("ab\0c", 4)));
}

TEST(Migrations, VersionsIncreaseStrictlyFromOne) {
  const auto& migrations = Migrations();
  ASSERT_FALSE(migrations.empty());
  EXPECT_EQ(migrations.front().version, 1u);
  for (std::size_t i = 1; i < migrations.size(); ++i) {
    EXPECT_GT(migrations[i].version, migrations[i - 1].version) << i;
  }
}

TEST(Migrations, EachHasANameAndStatementsNamingTheDatabase) {
  for (const auto& m : Migrations()) {
    EXPECT_FALSE(m.name.empty()) << m.version;
    ASSERT_FALSE(m.statements.empty()) << m.version;
    for (const auto statement : m.statements) {
      EXPECT_NE(statement.find("{db}."), std::string_view::npos) << statement;
      EXPECT_NE(statement.find("IF NOT EXISTS"), std::string_view::npos)
          << "migrations must be idempotent: " << statement;
    }
  }
}

TEST(Migrations, TheEventsTableHasTheEventColumns) {
  bool found = false;
  for (const auto& m : Migrations()) {
    for (const auto statement : m.statements) {
      if (statement.find("{db}.events") != std::string_view::npos &&
          statement.find(EventColumnsDdl()) != std::string_view::npos) {
        found = true;
      }
    }
  }
  EXPECT_TRUE(found);
}

TEST(EventColumns, NamesMatchTheDdlInOrder) {
  const auto names = SplitTopLevel(EventColumnNames());
  const auto ddl_names = DdlColumnNames();
  EXPECT_EQ(names, ddl_names);
  ASSERT_FALSE(names.empty());
  EXPECT_EQ(names.front(), "event_id");
  EXPECT_EQ(names.back(), "stored_at_ms");
}

TEST(EventColumns, EveryColumnHasAType) {
  for (const auto& column : SplitTopLevel(EventColumnsDdl())) {
    const auto space = column.find(' ');
    ASSERT_NE(space, std::string::npos) << column;
    EXPECT_FALSE(column.substr(space + 1).empty()) << column;
  }
}

TEST(EventColumns, NamesAreUnique) {
  const auto names = SplitTopLevel(EventColumnNames());
  std::map<std::string, int> seen;
  for (const auto& n : names) EXPECT_EQ(++seen[n], 1) << n;
}

// The RowBinary encoder writes `type + 1` as the Enum8 value; the DDL must agree for every type.
TEST(EventColumns, EventTypeEnumMatchesTheDomainOrder) {
  const std::string ddl(EventColumnsDdl());
  for (const auto type : domain::AllEventTypes()) {
    const std::string entry = "'" + std::string(domain::EventTypeName(type)) +
                              "' = " + std::to_string(static_cast<int>(type) + 1);
    EXPECT_NE(ddl.find(entry), std::string::npos) << entry;
  }
}

}  // namespace
}  // namespace adapters::clickhouse
