#pragma once

#include <chrono>
#include <cstddef>
#include <string_view>

namespace app {

/// What the ingest path reports for /metrics. Implementations are thread-safe and cheap.
class IngestMetrics {
 public:
  virtual ~IngestMetrics() = default;
  virtual void EventsReceived(std::string_view source, std::size_t n) = 0;
  virtual void EventRejected(std::string_view source, std::string_view reason) = 0;
  virtual void EventsDuplicate(std::size_t n) = 0;
  virtual void BatchStored(std::size_t events, std::chrono::duration<double> latency) = 0;
  virtual void BatchFailed() = 0;
  virtual void PendingEvents(std::size_t n) = 0;
};

/// Discards everything; for tools and tests that do not export metrics.
class NullIngestMetrics final : public IngestMetrics {
 public:
  void EventsReceived(std::string_view, std::size_t) override {}
  void EventRejected(std::string_view, std::string_view) override {}
  void EventsDuplicate(std::size_t) override {}
  void BatchStored(std::size_t, std::chrono::duration<double>) override {}
  void BatchFailed() override {}
  void PendingEvents(std::size_t) override {}
};

}  // namespace app
