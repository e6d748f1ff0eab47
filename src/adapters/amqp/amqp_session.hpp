#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/result.hpp"

namespace adapters::amqp {

/// Names and arguments of the broker objects the service uses; declared idempotently at start-up
/// (docs/publishing.md shows them).
struct Topology {
  std::string exchange = "analytics.events";              ///< durable topic, routing key = type
  std::string queue = "analytics-service.events";         ///< the service's queue, bound with "#"
  std::string dead_letter_exchange = "analytics.events.dlx";
  std::string dead_letter_queue = "analytics.events.dead";
  std::string queue_type = "quorum";                      ///< quorum | classic
  int delivery_limit = 10;  ///< deliveries before the broker dead-letters (quorum queues)
};

/// One AMQP 0-9-1 connection with one channel, on rabbitmq-c. Owns and closes both.
/// Not thread-safe: one thread uses a session at a time.
class AmqpSession {
 public:
  struct Options {
    std::string url;  ///< amqp://user:password@host:port/vhost
    std::chrono::seconds heartbeat{30};
    std::chrono::seconds connect_timeout{5};
    int prefetch = 0;          ///< basic.qos on the channel (0: none)
    bool confirms = false;     ///< put the channel in publisher-confirm mode
  };

  static base::Result<std::unique_ptr<AmqpSession>> Open(const Options& options);
  ~AmqpSession();
  AmqpSession(const AmqpSession&) = delete;
  AmqpSession& operator=(const AmqpSession&) = delete;

  /// Exchange, queue (with dead-letter exchange and delivery limit), dead-letter exchange and
  /// queue, bindings. Idempotent; fails if an existing object has other arguments.
  base::Status DeclareTopology(const Topology& topology);
  /// (messages ready, consumers) of a queue, by a passive declare.
  base::Result<std::pair<std::uint64_t, std::uint32_t>> QueueCounts(const std::string& queue);

  void* connection() const { return conn_; }  ///< amqp_connection_state_t
  int channel() const { return 1; }
  bool Broken() const { return broken_; }
  void MarkBroken() { broken_ = true; }

 private:
  explicit AmqpSession(void* conn) : conn_(conn) {}
  void* conn_;
  bool broken_ = false;
};

/// Text of the last RPC reply if it failed, for errors and logs (null when it succeeded).
std::optional<std::string> RpcError(void* conn, std::string_view what);

}  // namespace adapters::amqp
