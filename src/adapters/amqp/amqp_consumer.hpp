#pragma once

#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "adapters/amqp/amqp_publisher.hpp"
#include "adapters/amqp/amqp_session.hpp"
#include "app/ingest_service.hpp"
#include "app/ports/consumer_metrics.hpp"
#include "base/clock.hpp"
#include "domain/event_decoder.hpp"

namespace adapters::amqp {

/// Consumes the service's queue into the IngestService on its own thread: manual acks, a
/// prefetch of three batches, batches submitted at `batch_events` messages or `batch_delay`,
/// one multiple-ack per batch once it is durable. One batch is stored while the next one is
/// received, so the broker link and storage work at the same time. What happens to each message is decided by
/// app::DecideMessageAction: poison goes to the dead-letter exchange with its reason in headers
/// (confirmed before the ack), storage failures keep the batch unacked and retry with backoff
/// while heartbeats keep the connection. Reconnects with backoff after broker restarts.
/// Thread-safe: Start/Stop/Connected from any thread.
class AmqpConsumer {
 public:
  struct Options {
    std::string url;
    Topology topology;
    std::size_t batch_events = 5000;
    std::chrono::milliseconds batch_delay{200};
    std::chrono::seconds heartbeat{30};
    std::chrono::milliseconds max_backoff{10'000};
    domain::DecodeLimits limits;
  };

  AmqpConsumer(Options options, app::IngestService& ingest, const base::Clock& clock,
               app::ConsumerMetrics& metrics);
  ~AmqpConsumer();

  void Start();
  /// Stores and acks the batch in hand (if storage allows), then disconnects.
  void Stop();
  bool Connected() const { return connected_.load(); }

 private:
  struct Message {
    std::uint64_t tag = 0;
    std::string routing_key;
    std::string message_id;
    std::string body;
  };
  enum class FlushResult { kDone, kStorageFailed, kBrokerFailed };
  using BatchOutcome = base::Result<std::vector<app::EventResult>>;
  struct InFlight {
    std::vector<Message> messages;
    std::shared_ptr<std::promise<BatchOutcome>> done;  // shared with the ingest callback
    std::future<BatchOutcome> outcome;
  };

  void Run();
  base::Status Connect();
  void Disconnect();
  /// Reads one message or times out; false when the connection broke.
  bool Receive(std::chrono::milliseconds timeout);
  /// Hands the pending messages to storage as the batch in flight.
  void Submit();
  /// Acts on the outcome of the batch in flight (waiting for it): dead letters, then one ack.
  FlushResult Complete();
  base::Status DeadLetter(const Message& message, const domain::Rejection& why);
  void ReportDepth();

  Options options_;
  app::IngestService& ingest_;
  const base::Clock& clock_;
  app::ConsumerMetrics& metrics_;

  std::atomic<bool> stopping_{false};
  std::atomic<bool> connected_{false};
  std::thread thread_;

  std::unique_ptr<AmqpSession> session_;        // consuming
  std::unique_ptr<AmqpPublisher> dead_letters_;  // its own connection, confirms on
  std::vector<Message> pending_;                 // received, not yet submitted
  std::optional<InFlight> in_flight_;            // submitted, not yet acked
  std::chrono::steady_clock::time_point first_pending_;
  std::chrono::steady_clock::time_point last_depth_report_;
};

}  // namespace adapters::amqp
