#pragma once

#include <cstdint>
#include <string_view>

namespace app {

/// What a queue consumer reports for /metrics. Thread-safe.
class ConsumerMetrics {
 public:
  virtual ~ConsumerMetrics() = default;
  virtual void BrokerConnected(bool connected) = 0;
  virtual void BrokerReconnect() = 0;
  virtual void BatchAcked(std::size_t messages) = 0;
  virtual void DeadLettered(std::string_view reason) = 0;
  virtual void StorageRetry() = 0;
  virtual void QueueDepth(std::uint64_t ready, std::uint64_t unacked) = 0;
};

}  // namespace app
