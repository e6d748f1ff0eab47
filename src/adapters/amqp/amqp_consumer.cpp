#include "adapters/amqp/amqp_consumer.hpp"

#include <amqp.h>
#include <amqp_framing.h>
#include <fmt/format.h>

#include <future>

#include "app/message_policy.hpp"
#include "base/log.hpp"
#include "domain/timestamp.hpp"

namespace adapters::amqp {
namespace {

using SteadyClock = std::chrono::steady_clock;

amqp_connection_state_t Conn(AmqpSession& s) { return static_cast<amqp_connection_state_t>(s.connection()); }

std::string ToString(const amqp_bytes_t& b) { return std::string(static_cast<const char*>(b.bytes), b.len); }

}  // namespace

AmqpConsumer::AmqpConsumer(Options options, app::IngestService& ingest, const base::Clock& clock,
                           app::ConsumerMetrics& metrics)
    : options_(std::move(options)), ingest_(ingest), clock_(clock), metrics_(metrics) {}

AmqpConsumer::~AmqpConsumer() { Stop(); }

void AmqpConsumer::Start() {
  stopping_ = false;
  thread_ = std::thread([this] { Run(); });
}

void AmqpConsumer::Stop() {
  stopping_ = true;
  if (thread_.joinable()) thread_.join();
}

base::Status AmqpConsumer::Connect() {
  AmqpSession::Options so;
  so.url = options_.url;
  so.heartbeat = options_.heartbeat;
  so.prefetch = static_cast<int>(options_.batch_events * 3);
  auto session = AmqpSession::Open(so);
  if (!session) return base::Fail(session.error());
  if (auto s = (*session)->DeclareTopology(options_.topology); !s) return s;
  AmqpPublisher::Options po;
  po.session.url = options_.url;
  po.session.heartbeat = options_.heartbeat;
  auto publisher = AmqpPublisher::Open(po);
  if (!publisher) return base::Fail(publisher.error());
  auto conn = Conn(**session);
  amqp_basic_consume(conn, 1, amqp_cstring_bytes(options_.topology.queue.c_str()), amqp_empty_bytes, 0, 0, 0,
                     amqp_empty_table);
  if (auto e = RpcError(conn, "basic.consume")) return base::Fail(base::Error::Unavailable(*e));
  session_ = std::move(*session);
  dead_letters_ = std::move(*publisher);
  connected_ = true;
  metrics_.BrokerConnected(true);
  base::log::Info("amqp.consuming", {{"queue", options_.topology.queue},
                                     {"queue_type", options_.topology.queue_type},
                                     {"prefetch", options_.batch_events * 3}});
  return {};
}

void AmqpConsumer::Disconnect() {
  // Unacked messages go back to the queue when the channel closes; stored ones come back as
  // duplicates and are dropped, the rest are stored on redelivery.
  pending_.clear();
  in_flight_.reset();
  if (session_ && !session_->Broken()) {
    amqp_basic_cancel(Conn(*session_), 1, amqp_empty_bytes);  // best effort
  }
  session_.reset();
  dead_letters_.reset();
  if (connected_.exchange(false)) metrics_.BrokerConnected(false);
}

bool AmqpConsumer::Receive(std::chrono::milliseconds timeout) {
  auto conn = Conn(*session_);
  amqp_maybe_release_buffers(conn);
  const auto us = std::chrono::duration_cast<std::chrono::microseconds>(timeout).count();
  timeval tv{static_cast<time_t>(us / 1'000'000), static_cast<suseconds_t>(us % 1'000'000)};
  amqp_envelope_t envelope{};
  const amqp_rpc_reply_t r = amqp_consume_message(conn, &envelope, &tv, 0);
  if (r.reply_type == AMQP_RESPONSE_NORMAL) {
    Message m;
    m.tag = envelope.delivery_tag;
    m.routing_key = ToString(envelope.routing_key);
    m.body = ToString(envelope.message.body);
    if ((envelope.message.properties._flags & AMQP_BASIC_MESSAGE_ID_FLAG) != 0) {
      m.message_id = ToString(envelope.message.properties.message_id);
    }
    amqp_destroy_envelope(&envelope);
    if (pending_.empty()) first_pending_ = SteadyClock::now();
    pending_.push_back(std::move(m));
    return true;
  }
  if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION && r.library_error == AMQP_STATUS_TIMEOUT) return true;
  if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION && r.library_error == AMQP_STATUS_UNEXPECTED_STATE) {
    amqp_frame_t frame{};
    if (amqp_simple_wait_frame(conn, &frame) != AMQP_STATUS_OK) return false;
    if (frame.frame_type == AMQP_FRAME_METHOD) {
      const auto id = frame.payload.method.id;
      if (id == AMQP_CHANNEL_CLOSE_METHOD || id == AMQP_CONNECTION_CLOSE_METHOD || id == AMQP_BASIC_CANCEL_METHOD) {
        base::log::Warn("amqp.closed_by_broker", {{"method", static_cast<std::uint64_t>(id)}});
        session_->MarkBroken();
        return false;
      }
    }
    return true;
  }
  base::log::Warn("amqp.connection_lost",
                  {{"error", r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION ? amqp_error_string2(r.library_error)
                                                                             : "broker closed the connection"}});
  session_->MarkBroken();
  return false;
}

base::Status AmqpConsumer::DeadLetter(const Message& m, const domain::Rejection& why) {
  const AmqpPublisher::Headers headers = {
      {"x-analytics-reason", why.code},
      {"x-analytics-error", why.message},
      {"x-analytics-field", why.field},
      {"x-original-exchange", options_.topology.exchange},
      {"x-original-routing-key", m.routing_key},
      {"x-dead-lettered-at", domain::FormatIsoUtc(clock_.Now())},
  };
  return dead_letters_->Publish(options_.topology.dead_letter_exchange, m.routing_key, m.body, m.message_id,
                                headers);
}

void AmqpConsumer::Submit() {
  const auto now = clock_.Now();
  std::vector<domain::DecodeResult> decoded;
  decoded.reserve(pending_.size());
  for (const auto& m : pending_) {
    auto d = domain::DecodeEventBytes(m.body, options_.limits, now);
    // The message id property names the event when the body carries no id.
    if (d && !d->id_was_sent && !m.message_id.empty() && m.message_id.size() <= 256) {
      d->event.event_id = m.message_id;
      d->id_was_sent = true;
    }
    decoded.push_back(std::move(d));
  }
  InFlight batch;
  batch.messages = std::move(pending_);
  pending_.clear();
  batch.done = std::make_shared<std::promise<BatchOutcome>>();
  batch.outcome = batch.done->get_future();
  ingest_.Ingest("amqp", std::move(decoded),
                 [done = batch.done](BatchOutcome r) { done->set_value(std::move(r)); });
  in_flight_ = std::move(batch);
}

AmqpConsumer::FlushResult AmqpConsumer::Complete() {
  InFlight batch = std::move(*in_flight_);
  in_flight_.reset();
  const BatchOutcome outcome = batch.outcome.get();
  auto& messages = batch.messages;
  std::size_t dead = 0;
  for (std::size_t i = 0; i < messages.size(); ++i) {
    switch (app::DecideMessageAction(outcome, i)) {
      case app::MessageAction::kAck: break;
      case app::MessageAction::kHoldAndRetry:
        metrics_.StorageRetry();
        base::log::Warn("amqp.storage_unavailable", {{"messages", messages.size()},
                                                     {"error", outcome ? std::string("") : outcome.error().message}});
        // Back in front of what arrived since, in delivery order, for the next attempt.
        messages.insert(messages.end(), std::make_move_iterator(pending_.begin()),
                        std::make_move_iterator(pending_.end()));
        pending_ = std::move(messages);
        first_pending_ = SteadyClock::now();
        return FlushResult::kStorageFailed;
      case app::MessageAction::kDeadLetter: {
        const auto& why = (*outcome)[i].rejection;
        if (auto s = DeadLetter(messages[i], why); !s) {
          base::log::Warn("amqp.dead_letter_failed", {{"error", s.error().message}});
          return FlushResult::kBrokerFailed;
        }
        metrics_.DeadLettered(why.code);
        ++dead;
        break;
      }
    }
  }
  if (dead > 0) {
    if (auto s = dead_letters_->WaitForConfirms(std::chrono::seconds(30)); !s) {
      base::log::Warn("amqp.dead_letter_failed", {{"error", s.error().message}});
      return FlushResult::kBrokerFailed;
    }
  }
  // Everything delivered before this batch's last message is settled: earlier batches were
  // acked in order, and what arrived since has later tags.
  if (amqp_basic_ack(Conn(*session_), 1, messages.back().tag, 1) != AMQP_STATUS_OK) {
    session_->MarkBroken();
    return FlushResult::kBrokerFailed;
  }
  metrics_.BatchAcked(messages.size());
  base::log::Debug("amqp.batch_acked", {{"messages", messages.size()}, {"dead_lettered", dead}});
  return FlushResult::kDone;
}

void AmqpConsumer::ReportDepth() {
  if (SteadyClock::now() - last_depth_report_ < std::chrono::seconds(2) || !dead_letters_) return;
  last_depth_report_ = SteadyClock::now();
  // Asked on the dead-letter publisher's connection: no deliveries arrive there to interleave.
  if (auto counts = dead_letters_->session().QueueCounts(options_.topology.queue)) {
    metrics_.QueueDepth(counts->first, pending_.size() + (in_flight_ ? in_flight_->messages.size() : 0));
  }
}

void AmqpConsumer::Run() {
  std::chrono::milliseconds connect_backoff{200};
  std::chrono::milliseconds storage_backoff{0};
  SteadyClock::time_point retry_at{};
  bool ever_connected = false;
  while (true) {
    if (!session_) {
      if (stopping_) break;
      if (auto s = Connect(); !s) {
        base::log::Warn("amqp.connect_failed", {{"error", s.error().message}, {"retry_ms", connect_backoff.count()}});
        Disconnect();
        const auto until = SteadyClock::now() + connect_backoff;
        while (!stopping_ && SteadyClock::now() < until) std::this_thread::sleep_for(std::chrono::milliseconds(50));
        connect_backoff = std::min(connect_backoff * 2, options_.max_backoff);
        continue;
      }
      if (ever_connected) metrics_.BrokerReconnect();
      ever_connected = true;
      connect_backoff = std::chrono::milliseconds(200);
    }
    // Settle the batch in flight once storage answered (at once when stopping).
    if (in_flight_ && (stopping_ || in_flight_->outcome.wait_for(std::chrono::seconds(0)) ==
                                        std::future_status::ready)) {
      switch (Complete()) {
        case FlushResult::kDone: storage_backoff = std::chrono::milliseconds(0); break;
        case FlushResult::kStorageFailed:
          storage_backoff = std::min(std::max(storage_backoff * 2, std::chrono::milliseconds(100)), options_.max_backoff);
          retry_at = SteadyClock::now() + storage_backoff;
          break;
        case FlushResult::kBrokerFailed: Disconnect(); break;
      }
      continue;
    }
    const bool full = pending_.size() >= options_.batch_events;
    const bool due = !pending_.empty() && (full || stopping_ ||
                                           SteadyClock::now() - first_pending_ >= options_.batch_delay);
    if (!in_flight_ && due && SteadyClock::now() >= retry_at) {
      Submit();
      continue;
    }
    if (stopping_ && !in_flight_ && (pending_.empty() || SteadyClock::now() < retry_at)) {
      if (!pending_.empty()) base::log::Warn("amqp.stopping_with_unstored", {{"messages", pending_.size()}});
      break;  // anything unstored stays in the broker for the next start
    }
    // While storage works on a batch, keep receiving the next one (the prefetch bounds it);
    // check back on the batch in flight often.
    auto wait = in_flight_ ? std::chrono::milliseconds(2) : std::chrono::milliseconds(100);
    if (!pending_.empty() && !full && !in_flight_) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          first_pending_ + options_.batch_delay - SteadyClock::now());
      wait = std::clamp(left, std::chrono::milliseconds(1), wait);
    }
    if (pending_.size() >= options_.batch_events * 2) wait = std::chrono::milliseconds(2);
    if (!Receive(wait)) {
      Disconnect();
      continue;
    }
    ReportDepth();
  }
  Disconnect();
}

}  // namespace adapters::amqp
