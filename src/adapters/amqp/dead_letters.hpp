#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "adapters/amqp/amqp_session.hpp"
#include "base/result.hpp"

namespace adapters::amqp {

/// A message in the dead-letter queue, with why it is there.
struct DeadLetter {
  std::string routing_key;
  std::string message_id;
  std::string reason;  ///< x-analytics-reason (a rejection code), or "delivery_limit" when the
                       ///< broker dead-lettered it after too many deliveries
  std::string error;
  std::string dead_lettered_at;
  std::string body;
};

/// Reads up to `limit` dead letters without removing them (they are returned to the queue).
base::Result<std::vector<DeadLetter>> ListDeadLetters(const std::string& url, const Topology& topology,
                                                      std::size_t limit);

/// Publishes up to `limit` of the dead letters present when called back to the events exchange
/// with their original routing key and id (after a fix of the producer or of the service),
/// confirmed before each is removed. Returns how many were replayed.
base::Result<std::size_t> ReplayDeadLetters(const std::string& url, const Topology& topology,
                                            std::size_t limit);

}  // namespace adapters::amqp
