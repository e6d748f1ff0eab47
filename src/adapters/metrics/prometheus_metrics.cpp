#include "adapters/metrics/prometheus_metrics.hpp"

#include <prometheus/text_serializer.h>

namespace adapters::metrics {
namespace {

std::string CacheKey(const void* family, const std::map<std::string, std::string>& labels) {
  std::string key = std::to_string(reinterpret_cast<std::uintptr_t>(family));
  for (const auto& [k, v] : labels) key += "\x1f" + k + "=" + v;
  return key;
}

}  // namespace

PrometheusMetrics::PrometheusMetrics()
    : registry_(std::make_shared<prometheus::Registry>()),
      received_(prometheus::BuildCounter()
                    .Name("analytics_events_received_total")
                    .Help("Events received, by source (http, amqp)")
                    .Register(*registry_)),
      rejected_(prometheus::BuildCounter()
                    .Name("analytics_events_rejected_total")
                    .Help("Events refused by validation, by source and reason")
                    .Register(*registry_)),
      stored_(prometheus::BuildCounter()
                  .Name("analytics_events_stored_total")
                  .Help("Events durably stored")
                  .Register(*registry_)
                  .Add({})),
      duplicates_(prometheus::BuildCounter()
                      .Name("analytics_events_duplicate_total")
                      .Help("Redelivered copies of already stored events, dropped")
                      .Register(*registry_)
                      .Add({})),
      batch_failures_(prometheus::BuildCounter()
                          .Name("analytics_storage_batch_failures_total")
                          .Help("Storage inserts that failed (their events were not acknowledged)")
                          .Register(*registry_)
                          .Add({})),
      batch_size_(prometheus::BuildHistogram()
                      .Name("analytics_storage_batch_events")
                      .Help("Events per storage insert")
                      .Register(*registry_)
                      .Add({}, prometheus::Histogram::BucketBoundaries{1, 10, 100, 1000, 5000,
                                                                       10000, 50000, 100000})),
      insert_seconds_(prometheus::BuildHistogram()
                          .Name("analytics_storage_insert_seconds")
                          .Help("Latency of one storage insert")
                          .Register(*registry_)
                          .Add({}, prometheus::Histogram::BucketBoundaries{
                                       0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5,
                                       5})),
      pending_(prometheus::BuildGauge()
                   .Name("analytics_ingest_pending_events")
                   .Help("Events accepted for storage and not yet written")
                   .Register(*registry_)
                   .Add({})),
      requests_(prometheus::BuildCounter()
                    .Name("analytics_http_requests_total")
                    .Help("HTTP requests, by route and status")
                    .Register(*registry_)),
      request_seconds_(prometheus::BuildHistogram()
                           .Name("analytics_http_request_seconds")
                           .Help("HTTP request latency, by route")
                           .Register(*registry_)),
      throttled_(prometheus::BuildCounter()
                     .Name("analytics_http_throttled_total")
                     .Help("Requests refused by the rate limiter (429), by access class")
                     .Register(*registry_)),
      access_refused_(prometheus::BuildCounter()
                          .Name("analytics_http_access_refused_total")
                          .Help("Requests refused for their credentials (401) or rights (403), by access class")
                          .Register(*registry_)),
      broker_connected_(prometheus::BuildGauge()
                            .Name("analytics_amqp_connected")
                            .Help("1 while the RabbitMQ consumer is connected")
                            .Register(*registry_)
                            .Add({})),
      broker_reconnects_(prometheus::BuildCounter()
                             .Name("analytics_amqp_reconnects_total")
                             .Help("Reconnections to RabbitMQ after a lost connection")
                             .Register(*registry_)
                             .Add({})),
      amqp_batches_(prometheus::BuildCounter()
                        .Name("analytics_amqp_batches_total")
                        .Help("Batches of messages stored and acknowledged")
                        .Register(*registry_)
                        .Add({})),
      amqp_acked_(prometheus::BuildCounter()
                      .Name("analytics_amqp_acked_messages_total")
                      .Help("Messages acknowledged (stored, duplicates or dead-lettered)")
                      .Register(*registry_)
                      .Add({})),
      dead_letters_(prometheus::BuildCounter()
                        .Name("analytics_amqp_dead_letters_total")
                        .Help("Messages sent to the dead-letter queue, by reason")
                        .Register(*registry_)),
      storage_retries_(prometheus::BuildCounter()
                           .Name("analytics_amqp_storage_retries_total")
                           .Help("Batches held unacked and retried because storage failed")
                           .Register(*registry_)
                           .Add({})),
      queue_ready_(prometheus::BuildGauge()
                       .Name("analytics_amqp_queue_ready_messages")
                       .Help("Messages ready in the service's queue (consumer lag)")
                       .Register(*registry_)
                       .Add({})),
      queue_unacked_(prometheus::BuildGauge()
                         .Name("analytics_amqp_unacked_messages")
                         .Help("Messages received and not yet acknowledged")
                         .Register(*registry_)
                         .Add({})),
      rollup_(prometheus::BuildGauge()
                  .Name("analytics_rollup_slots")
                  .Help("15-minute slots of the query rollup, by state (built, pending)")
                  .Register(*registry_)),
      rollup_built_(rollup_.Add({{"state", "built"}})),
      rollup_pending_(rollup_.Add({{"state", "pending"}})),
      rollup_bytes_(prometheus::BuildGauge()
                        .Name("analytics_rollup_bytes")
                        .Help("Memory held by the query rollup's slots")
                        .Register(*registry_)
                        .Add({})) {}

void PrometheusMetrics::BrokerConnected(bool connected) { broker_connected_.Set(connected ? 1 : 0); }
void PrometheusMetrics::BrokerReconnect() { broker_reconnects_.Increment(); }
void PrometheusMetrics::BatchAcked(std::size_t messages) {
  amqp_batches_.Increment();
  amqp_acked_.Increment(static_cast<double>(messages));
}
void PrometheusMetrics::DeadLettered(std::string_view reason) {
  Labeled(dead_letters_, {{"reason", std::string(reason)}}).Increment();
}
void PrometheusMetrics::StorageRetry() { storage_retries_.Increment(); }
void PrometheusMetrics::QueueDepth(std::uint64_t ready, std::uint64_t unacked) {
  queue_ready_.Set(static_cast<double>(ready));
  queue_unacked_.Set(static_cast<double>(unacked));
}

void PrometheusMetrics::RollupProgress(const app::RollupState& state) {
  rollup_built_.Set(static_cast<double>(state.built_slots));
  rollup_pending_.Set(static_cast<double>(state.pending_slots));
  rollup_bytes_.Set(static_cast<double>(state.bytes));
}

prometheus::Counter& PrometheusMetrics::Labeled(prometheus::Family<prometheus::Counter>& family,
                                                const std::map<std::string, std::string>& labels) {
  const auto key = CacheKey(&family, labels);
  std::lock_guard lock(mutex_);
  auto it = counter_cache_.find(key);
  if (it == counter_cache_.end()) it = counter_cache_.emplace(key, &family.Add(labels)).first;
  return *it->second;
}

void PrometheusMetrics::EventsReceived(std::string_view source, std::size_t n) {
  Labeled(received_, {{"source", std::string(source)}}).Increment(static_cast<double>(n));
}

void PrometheusMetrics::EventRejected(std::string_view source, std::string_view reason) {
  Labeled(rejected_, {{"source", std::string(source)}, {"reason", std::string(reason)}})
      .Increment();
}

void PrometheusMetrics::EventsDuplicate(std::size_t n) {
  duplicates_.Increment(static_cast<double>(n));
}

void PrometheusMetrics::BatchStored(std::size_t events, std::chrono::duration<double> latency) {
  stored_.Increment(static_cast<double>(events));
  batch_size_.Observe(static_cast<double>(events));
  insert_seconds_.Observe(latency.count());
}

void PrometheusMetrics::BatchFailed() { batch_failures_.Increment(); }

void PrometheusMetrics::PendingEvents(std::size_t n) { pending_.Set(static_cast<double>(n)); }

void PrometheusMetrics::RequestServed(std::string_view route, int status,
                                      std::chrono::duration<double> latency) {
  Labeled(requests_, {{"route", std::string(route)}, {"status", std::to_string(status)}})
      .Increment();
  const std::map<std::string, std::string> labels{{"route", std::string(route)}};
  const auto key = CacheKey(&request_seconds_, labels);
  prometheus::Histogram* h = nullptr;
  {
    std::lock_guard lock(mutex_);
    auto it = histogram_cache_.find(key);
    if (it == histogram_cache_.end()) {
      it = histogram_cache_
               .emplace(key, &request_seconds_.Add(
                                 labels, prometheus::Histogram::BucketBoundaries{
                                             0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                             1, 2.5, 5}))
               .first;
    }
    h = it->second;
  }
  h->Observe(latency.count());
}

void PrometheusMetrics::RequestThrottled(std::string_view access_class) {
  Labeled(throttled_, {{"class", std::string(access_class)}}).Increment();
}

void PrometheusMetrics::AccessRefused(std::string_view access_class, int status) {
  Labeled(access_refused_, {{"class", std::string(access_class)}, {"status", std::to_string(status)}})
      .Increment();
}

std::string PrometheusMetrics::Render() const {
  return prometheus::TextSerializer().Serialize(registry_->Collect());
}

}  // namespace adapters::metrics
