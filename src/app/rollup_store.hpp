#pragma once

#include "app/ports/analytics_store.hpp"
#include "app/ports/slot_facts.hpp"
#include "app/rollup.hpp"

namespace app {

/// AnalyticsStore that answers every read from the Rollup: built slots from memory, the rest of
/// the range (the open slot, partial edge slots, slots changed since built) read from storage as
/// slot facts and merged in, so every answer is the raw reads' answer (latency percentiles
/// within 0.5%). When most of a range is not built yet (right after start-up), or a read cannot
/// be answered from slots (a session gap under one slot, a price change off a slot boundary),
/// the read goes to `raw`. Thread-safe.
class RollupAnalyticsStore final : public AnalyticsStore {
 public:
  struct Options {
    /// Above this share of the range still to read from storage, the raw read is used instead.
    double max_missing_share = 0.5;
  };
  RollupAnalyticsStore(AnalyticsStore& raw, SlotFactSource& source, Rollup& rollup, Options options)
      : raw_(raw), source_(source), rollup_(rollup), options_(options) {}

  base::Result<SignupTotals> Signups(const domain::TimeRange& range) override;
  base::Result<std::vector<BucketCount>> SignupsByBucket(const domain::TimeRange& range,
                                                         const Bucketing& b) override;
  base::Result<std::vector<NamedCount>> PlansAt(base::TimePoint end) override;
  base::Result<std::vector<BucketCount>> ActiveUsers(const domain::TimeRange& range,
                                                     const Bucketing& b) override;
  base::Result<ActiveWindowCounts> ActiveUsersSince(base::TimePoint day_start,
                                                    base::TimePoint week_start,
                                                    base::TimePoint month_start,
                                                    base::TimePoint end) override;
  base::Result<RetentionCounts> Retention(const domain::TimeRange& range,
                                          const Bucketing& b) override;
  base::Result<std::vector<ConversationCounts>> Conversations(const domain::TimeRange& range,
                                                              const Bucketing& b) override;
  base::Result<std::vector<SessionStats>> Sessions(const domain::TimeRange& range,
                                                   const Bucketing& b,
                                                   std::chrono::milliseconds gap) override;
  base::Result<std::vector<MessageTotals>> Messages(const domain::TimeRange& range,
                                                    const MessageGrouping& g) override;
  base::Result<std::vector<PaymentTotals>> Payments(const domain::TimeRange& range,
                                                    bool by_plan) override;
  base::Result<PaymentCounts> PaymentOutcomes(const domain::TimeRange& range) override;
  base::Result<std::vector<BillingEvent>> BillingHistory(base::TimePoint end) override;
  base::Result<std::vector<CostGroup>> CostGroups(const domain::TimeRange& range,
                                                  const Bucketing& b,
                                                  const std::vector<std::int64_t>& breakpoints) override;
  base::Result<std::vector<ModelCount>> ModelUsage(const domain::TimeRange& range) override;
  base::Result<std::uint64_t> UsersOutside(
      const domain::TimeRange& range,
      const std::vector<std::pair<std::string, std::string>>& excluded) override;
  base::Result<std::vector<LatencyStats>> Latencies(const domain::TimeRange& range,
                                                    bool by_model) override;

 private:
  /// The slots of [start, end) with `kinds` of facts, or nullopt when the raw read should be used.
  base::Result<std::optional<std::vector<SlotPtr>>> Collect(std::int64_t start_ms,
                                                            std::int64_t end_ms, unsigned kinds);

  AnalyticsStore& raw_;
  SlotFactSource& source_;
  Rollup& rollup_;
  const Options options_;
};

}  // namespace app
