#include "adapters/amqp/amqp_publisher.hpp"

#include <amqp.h>
#include <amqp_framing.h>
#include <fmt/format.h>

namespace adapters::amqp {
namespace {

amqp_bytes_t Bytes(std::string_view s) { return amqp_bytes_t{s.size(), const_cast<char*>(s.data())}; }

}  // namespace

AmqpPublisher::AmqpPublisher(Options options, std::unique_ptr<AmqpSession> session)
    : options_(std::move(options)), session_(std::move(session)) {}

base::Result<std::unique_ptr<AmqpPublisher>> AmqpPublisher::Open(Options options) {
  options.session.confirms = true;
  auto session = AmqpSession::Open(options.session);
  if (!session) return base::Fail(session.error());
  return std::unique_ptr<AmqpPublisher>(new AmqpPublisher(std::move(options), std::move(*session)));
}

base::Status AmqpPublisher::Publish(const std::string& exchange, const std::string& routing_key,
                                    std::string_view body, const std::string& message_id,
                                    const Headers& headers) {
  if (session_->Broken()) return base::Fail(base::Error::Unavailable("the AMQP connection is broken"));
  if (outstanding_.size() >= options_.confirm_window) {
    if (auto s = DrainConfirms(options_.confirm_window - 1,
                               std::chrono::steady_clock::now() + std::chrono::seconds(30));
        !s) {
      return s;
    }
  }
  std::vector<amqp_table_entry_t> entries;
  entries.reserve(headers.size());
  for (const auto& [k, v] : headers) {
    amqp_table_entry_t e{};
    e.key = Bytes(k);
    e.value.kind = AMQP_FIELD_KIND_UTF8;
    e.value.value.bytes = Bytes(v);
    entries.push_back(e);
  }
  amqp_basic_properties_t props{};
  props._flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG;
  props.content_type = amqp_cstring_bytes("application/json");
  props.delivery_mode = 2;
  if (!message_id.empty()) {
    props._flags |= AMQP_BASIC_MESSAGE_ID_FLAG;
    props.message_id = Bytes(message_id);
  }
  if (!entries.empty()) {
    props._flags |= AMQP_BASIC_HEADERS_FLAG;
    props.headers = amqp_table_t{static_cast<int>(entries.size()), entries.data()};
  }
  auto conn = static_cast<amqp_connection_state_t>(session_->connection());
  const int rc = amqp_basic_publish(conn, 1, Bytes(exchange), Bytes(routing_key), 0, 0, &props, Bytes(body));
  if (rc != AMQP_STATUS_OK) {
    session_->MarkBroken();
    return base::Fail(base::Error::Unavailable(fmt::format("publish failed: {}", amqp_error_string2(rc))));
  }
  outstanding_.insert(next_tag_++);
  return {};
}

base::Status AmqpPublisher::WaitForConfirms(std::chrono::milliseconds timeout) {
  return DrainConfirms(0, std::chrono::steady_clock::now() + timeout);
}

base::Status AmqpPublisher::DrainConfirms(std::size_t max_outstanding,
                                          std::chrono::steady_clock::time_point deadline) {
  auto conn = static_cast<amqp_connection_state_t>(session_->connection());
  const std::uint64_t nacked_before = nacked_;
  while (outstanding_.size() > max_outstanding) {
    const auto left = deadline - std::chrono::steady_clock::now();
    if (left <= std::chrono::steady_clock::duration::zero()) {
      return base::Fail(base::Error::Unavailable(
          fmt::format("{} publishes not confirmed in time", outstanding_.size())));
    }
    const auto us = std::chrono::duration_cast<std::chrono::microseconds>(left).count();
    timeval tv{static_cast<time_t>(us / 1'000'000), static_cast<suseconds_t>(us % 1'000'000)};
    amqp_frame_t frame{};
    const int rc = amqp_simple_wait_frame_noblock(conn, &frame, &tv);
    if (rc == AMQP_STATUS_TIMEOUT) continue;
    if (rc != AMQP_STATUS_OK) {
      session_->MarkBroken();
      return base::Fail(base::Error::Unavailable(
          fmt::format("connection lost waiting for confirms: {}", amqp_error_string2(rc))));
    }
    if (frame.frame_type != AMQP_FRAME_METHOD) continue;
    const auto id = frame.payload.method.id;
    std::uint64_t tag = 0;
    bool multiple = false;
    bool ack = true;
    if (id == AMQP_BASIC_ACK_METHOD) {
      const auto* m = static_cast<amqp_basic_ack_t*>(frame.payload.method.decoded);
      tag = m->delivery_tag;
      multiple = m->multiple != 0;
    } else if (id == AMQP_BASIC_NACK_METHOD) {
      const auto* m = static_cast<amqp_basic_nack_t*>(frame.payload.method.decoded);
      tag = m->delivery_tag;
      multiple = m->multiple != 0;
      ack = false;
    } else if (id == AMQP_CHANNEL_CLOSE_METHOD || id == AMQP_CONNECTION_CLOSE_METHOD) {
      session_->MarkBroken();
      return base::Fail(base::Error::Unavailable("the broker closed the publishing channel"));
    } else {
      continue;
    }
    auto end = multiple ? outstanding_.upper_bound(tag) : outstanding_.find(tag);
    if (!multiple && end != outstanding_.end()) end = std::next(end);
    const auto begin = multiple ? outstanding_.begin() : outstanding_.find(tag);
    if (begin == outstanding_.end()) continue;
    if (!ack) nacked_ += static_cast<std::uint64_t>(std::distance(begin, end));
    outstanding_.erase(begin, end);
  }
  if (nacked_ > nacked_before) {
    return base::Fail(base::Error::Unavailable(
        fmt::format("the broker refused {} messages; publish them again", nacked_ - nacked_before)));
  }
  return {};
}

}  // namespace adapters::amqp
