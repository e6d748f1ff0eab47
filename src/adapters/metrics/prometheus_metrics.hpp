#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include "app/ports/consumer_metrics.hpp"
#include "app/ports/http_metrics.hpp"
#include "app/ports/ingest_metrics.hpp"
#include "app/ports/rollup_metrics.hpp"

namespace adapters::metrics {

/// Every metric port on one prometheus-cpp registry. Thread-safe (prometheus-cpp metrics are
/// atomic; label lookups are cached behind a mutex).
class PrometheusMetrics final : public app::IngestMetrics,
                                public app::HttpMetrics,
                                public app::ConsumerMetrics,
                                public app::RollupMetrics {
 public:
  PrometheusMetrics();

  void EventsReceived(std::string_view source, std::size_t n) override;
  void EventRejected(std::string_view source, std::string_view reason) override;
  void EventsDuplicate(std::size_t n) override;
  void BatchStored(std::size_t events, std::chrono::duration<double> latency) override;
  void BatchFailed() override;
  void PendingEvents(std::size_t n) override;

  void RequestServed(std::string_view route, int status,
                     std::chrono::duration<double> latency) override;
  void RequestThrottled(std::string_view access_class) override;
  void AccessRefused(std::string_view access_class, int status) override;
  std::string Render() const override;

  void BrokerConnected(bool connected) override;
  void BrokerReconnect() override;
  void BatchAcked(std::size_t messages) override;
  void DeadLettered(std::string_view reason) override;
  void StorageRetry() override;
  void QueueDepth(std::uint64_t ready, std::uint64_t unacked) override;

  void RollupProgress(const app::RollupState& state) override;

 private:
  prometheus::Counter& Labeled(prometheus::Family<prometheus::Counter>& family,
                               const std::map<std::string, std::string>& labels);

  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>& received_;
  prometheus::Family<prometheus::Counter>& rejected_;
  prometheus::Counter& stored_;
  prometheus::Counter& duplicates_;
  prometheus::Counter& batch_failures_;
  prometheus::Histogram& batch_size_;
  prometheus::Histogram& insert_seconds_;
  prometheus::Gauge& pending_;
  prometheus::Family<prometheus::Counter>& requests_;
  prometheus::Family<prometheus::Histogram>& request_seconds_;
  prometheus::Family<prometheus::Counter>& throttled_;
  prometheus::Family<prometheus::Counter>& access_refused_;
  prometheus::Gauge& broker_connected_;
  prometheus::Counter& broker_reconnects_;
  prometheus::Counter& amqp_batches_;
  prometheus::Counter& amqp_acked_;
  prometheus::Family<prometheus::Counter>& dead_letters_;
  prometheus::Counter& storage_retries_;
  prometheus::Gauge& queue_ready_;
  prometheus::Gauge& queue_unacked_;
  prometheus::Family<prometheus::Gauge>& rollup_;
  prometheus::Gauge& rollup_built_;
  prometheus::Gauge& rollup_pending_;
  prometheus::Gauge& rollup_bytes_;

  std::mutex mutex_;
  std::map<std::string, prometheus::Counter*> counter_cache_;
  std::map<std::string, prometheus::Histogram*> histogram_cache_;
};

}  // namespace adapters::metrics
