#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "adapters/clickhouse/event_sql.hpp"
#include "app/ports/analytics_store.hpp"
#include "app/ports/slot_facts.hpp"

namespace adapters::clickhouse {

/// Named SQL of the analytics reads (TabSeparated answers). Shared by the embedded and server
/// modes. Every statement reads `events FINAL`, so a redelivered copy that reached storage is
/// collapsed with its original; ranges filter on `ts` (partition and primary-key pruning) and
/// then exactly on `ts_ms`. No user-supplied text reaches the SQL unquoted.
namespace sql {
std::string BucketOf(std::string_view datetime_expr, const app::Bucketing& b);
std::string Signups(std::string_view db, const domain::TimeRange& r);
std::string SignupsByBucket(std::string_view db, const domain::TimeRange& r, const app::Bucketing& b);
std::string PlansAt(std::string_view db, base::TimePoint end);
std::string ActiveUsers(std::string_view db, const domain::TimeRange& r, const app::Bucketing& b);
std::string ActiveUsersSince(std::string_view db, base::TimePoint day, base::TimePoint week,
                             base::TimePoint month, base::TimePoint end);
std::string RetentionCohorts(std::string_view db, const domain::TimeRange& r, const app::Bucketing& b);
std::string RetentionActivity(std::string_view db, const domain::TimeRange& r, const app::Bucketing& b);
std::string Conversations(std::string_view db, const domain::TimeRange& r, const app::Bucketing& b);
std::string Sessions(std::string_view db, const domain::TimeRange& r, const app::Bucketing& b,
                     std::chrono::milliseconds gap);
std::string Messages(std::string_view db, const domain::TimeRange& r, const app::MessageGrouping& g);
std::string Payments(std::string_view db, const domain::TimeRange& r, bool by_plan);
std::string PaymentOutcomes(std::string_view db, const domain::TimeRange& r);
std::string BillingHistory(std::string_view db, base::TimePoint end);
std::string CostGroups(std::string_view db, const domain::TimeRange& r, const app::Bucketing& b,
                       const std::vector<std::int64_t>& breakpoints);
std::string ModelUsage(std::string_view db, const domain::TimeRange& r);
std::string UsersOutside(std::string_view db, const domain::TimeRange& r,
                         const std::vector<std::pair<std::string, std::string>>& excluded);
std::string Latencies(std::string_view db, const domain::TimeRange& r, bool by_model);
// The rollup's slot facts (app::SlotFactSource).
std::string SlotActivity(std::string_view db, std::span<const app::MsRange> ranges);
std::string SlotPriced(std::string_view db, std::span<const app::MsRange> ranges);
std::string SlotAudience(std::string_view db, std::span<const app::MsRange> ranges);
std::string SlotLatency(std::string_view db, std::span<const app::MsRange> ranges);
std::string StoredSpan(std::string_view db);
std::string SlotRecords(std::string_view db, std::span<const app::MsRange> ranges);
std::string SlotConversations(std::string_view db, std::span<const app::MsRange> ranges);
/// A ClickHouse string literal.
std::string Quote(std::string_view text);
}  // namespace sql

/// Splits TabSeparated output into rows of unescaped fields (`\N` stays as the text `\N`).
std::vector<std::vector<std::string>> ParseTsv(std::string_view tsv);
/// Parses decimal text (`-12.3400`) into units of 10^-scale; extra digits are an error.
base::Result<app::Units> ParseUnits(std::string_view text, int scale);

/// The caps of every read, so that one request cannot hold a worker or starve ingest of memory.
struct ReadLimits {
  /// ClickHouse `max_execution_time` (whole seconds; 0 = no limit).
  std::chrono::seconds max_execution_time{10};
  /// ClickHouse `max_memory_usage` of one read (0 = no limit).
  std::uint64_t max_memory_bytes = std::uint64_t{2} << 30;
};

/// The SETTINGS clause appended to each read (valid from ClickHouse 18.16 on).
std::string ReadSettings(const ReadLimits& limits);

/// AnalyticsStore and SlotFactSource over any ClickHouse that runs SQL through `execute` (the
/// embedded engine's analytics connection, or a server's HTTP interface). Every read is capped
/// by `limits`; a read past a cap fails with kUnavailable (503). Thread-safe if `execute` is.
class ClickHouseAnalyticsStore final : public app::AnalyticsStore, public app::SlotFactSource {
 public:
  using Options = ReadLimits;

  ClickHouseAnalyticsStore(Execute execute, std::string database, Options options = {})
      : execute_(std::move(execute)), db_(std::move(database)), settings_(ReadSettings(options)) {}

  base::Result<app::SignupTotals> Signups(const domain::TimeRange& range) override;
  base::Result<std::vector<app::BucketCount>> SignupsByBucket(const domain::TimeRange& range,
                                                              const app::Bucketing& b) override;
  base::Result<std::vector<app::NamedCount>> PlansAt(base::TimePoint end) override;
  base::Result<std::vector<app::BucketCount>> ActiveUsers(const domain::TimeRange& range,
                                                          const app::Bucketing& b) override;
  base::Result<app::ActiveWindowCounts> ActiveUsersSince(base::TimePoint day_start,
                                                         base::TimePoint week_start,
                                                         base::TimePoint month_start,
                                                         base::TimePoint end) override;
  base::Result<app::RetentionCounts> Retention(const domain::TimeRange& range,
                                               const app::Bucketing& b) override;
  base::Result<std::vector<app::ConversationCounts>> Conversations(
      const domain::TimeRange& range, const app::Bucketing& b) override;
  base::Result<std::vector<app::SessionStats>> Sessions(const domain::TimeRange& range,
                                                        const app::Bucketing& b,
                                                        std::chrono::milliseconds gap) override;
  base::Result<std::vector<app::MessageTotals>> Messages(const domain::TimeRange& range,
                                                         const app::MessageGrouping& g) override;
  base::Result<std::vector<app::PaymentTotals>> Payments(const domain::TimeRange& range,
                                                         bool by_plan) override;
  base::Result<app::PaymentCounts> PaymentOutcomes(const domain::TimeRange& range) override;
  base::Result<std::vector<app::BillingEvent>> BillingHistory(base::TimePoint end) override;
  base::Result<std::vector<app::CostGroup>> CostGroups(
      const domain::TimeRange& range, const app::Bucketing& b,
      const std::vector<std::int64_t>& breakpoints) override;
  base::Result<std::vector<app::ModelCount>> ModelUsage(const domain::TimeRange& range) override;
  base::Result<std::uint64_t> UsersOutside(
      const domain::TimeRange& range,
      const std::vector<std::pair<std::string, std::string>>& excluded) override;
  base::Result<std::vector<app::LatencyStats>> Latencies(const domain::TimeRange& range,
                                                         bool by_model) override;

  base::Result<app::SlotFacts> ReadFacts(std::span<const app::MsRange> ranges,
                                         unsigned kinds) override;
  base::Result<std::optional<app::MsRange>> StoredSpan() override;

 private:
  base::Result<std::vector<std::vector<std::string>>> Rows(const std::string& sql,
                                                           std::size_t columns);
  Execute execute_;
  std::string db_;
  std::string settings_;
};

}  // namespace adapters::clickhouse
