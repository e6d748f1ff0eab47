#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "adapters/amqp/amqp_session.hpp"
#include "base/result.hpp"

namespace adapters::amqp {

/// Publishes persistent messages with publisher confirms, as the platform's services do: at
/// most `confirm_window` messages are unconfirmed at a time, so throughput does not wait for
/// each confirm while a broker failure loses at most that many unconfirmed messages, which the
/// caller learns about. Not thread-safe: one publisher per thread.
class AmqpPublisher {
 public:
  struct Options {
    AmqpSession::Options session;
    std::size_t confirm_window = 1000;
  };

  static base::Result<std::unique_ptr<AmqpPublisher>> Open(Options options);

  using Headers = std::vector<std::pair<std::string, std::string>>;
  /// delivery_mode 2 (persistent), content_type application/json, `message_id`, string headers.
  base::Status Publish(const std::string& exchange, const std::string& routing_key,
                       std::string_view body, const std::string& message_id,
                       const Headers& headers = {});
  /// Waits until every message published so far is confirmed. Fails if the broker refused any
  /// (nack) or the connection broke: the unconfirmed ones must be published again.
  base::Status WaitForConfirms(std::chrono::milliseconds timeout);

  AmqpSession& session() { return *session_; }
  std::uint64_t published() const { return next_tag_ - 1; }
  std::uint64_t nacked() const { return nacked_; }

 private:
  AmqpPublisher(Options options, std::unique_ptr<AmqpSession> session);
  /// Reads confirms until at most `max_outstanding` remain or `deadline` passes.
  base::Status DrainConfirms(std::size_t max_outstanding, std::chrono::steady_clock::time_point deadline);

  Options options_;
  std::unique_ptr<AmqpSession> session_;
  std::uint64_t next_tag_ = 1;
  std::set<std::uint64_t> outstanding_;
  std::uint64_t nacked_ = 0;
};

}  // namespace adapters::amqp
