#pragma once

#include <chrono>

#include "app/ports/analytics_store.hpp"
#include "app/response_cache.hpp"
#include "base/result.hpp"
#include "domain/analytics_query.hpp"
#include "domain/catalogs.hpp"
#include "domain/metric_result.hpp"

namespace app {

/// Answers the analytics endpoints: runs the store's named reads for a validated query, then
/// fills empty buckets, orders rows, derives shares, rates and averages, replays subscriptions
/// for MRR and prices messages. Rows per provider, model, plan or currency keep the query's
/// `max_groups` largest groups and fold the rest into one "(other)" group, so an answer holds no
/// more than AnswerCellBound cells; what it holds besides is bounded by the rows the store
/// returns (the data present), never by buckets x all groups. Definitions: docs/metrics.md.
/// Answers go through `cache`. Thread-safe if the store is; holds no per-request state.
class QueryService {
 public:
  struct Options {
    std::chrono::milliseconds session_gap = std::chrono::minutes{30};
  };
  struct Answer {
    domain::MetricResult result;
    bool cached = false;
  };

  QueryService(AnalyticsStore& store, domain::PlanCatalog plans, domain::PriceTable prices,
               ResponseCache& cache, Options options)
      : store_(store),
        plans_(std::move(plans)),
        prices_(std::move(prices)),
        cache_(cache),
        options_(options) {}

  base::Result<Answer> Run(const domain::AnalyticsQuery& query);
  /// Without the cache (benchmarks).
  base::Result<domain::MetricResult> Compute(const domain::AnalyticsQuery& query);

 private:
  using Q = domain::AnalyticsQuery;
  using R = base::Result<domain::MetricResult>;
  R UsersCount(const Q& q);
  R UsersGrowth(const Q& q);
  R UsersByPlan(const Q& q);
  R UsersActive(const Q& q);
  R UsersRetention(const Q& q);
  R ChatMessages(const Q& q);
  R ChatConversations(const Q& q);
  R ChatByProvider(const Q& q);
  R ChatTokens(const Q& q);
  R ChatAverageSession(const Q& q);
  R RevenueTotal(const Q& q, bool by_plan);
  R RevenueMrr(const Q& q, domain::Metric metric);
  R ProvidersUsage(const Q& q);
  R ProvidersCosts(const Q& q);
  R ProvidersPopularity(const Q& q);
  R ProvidersPerformance(const Q& q);

  AnalyticsStore& store_;
  const domain::PlanCatalog plans_;
  const domain::PriceTable prices_;
  ResponseCache& cache_;
  const Options options_;
};

}  // namespace app
