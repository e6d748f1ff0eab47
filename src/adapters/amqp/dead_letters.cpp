#include "adapters/amqp/dead_letters.hpp"

#include <amqp.h>
#include <amqp_framing.h>
#include <fmt/format.h>

#include "adapters/amqp/amqp_publisher.hpp"

namespace adapters::amqp {
namespace {

std::string ToString(const amqp_bytes_t& b) { return std::string(static_cast<const char*>(b.bytes), b.len); }

std::string Header(const amqp_basic_properties_t& p, std::string_view key) {
  if ((p._flags & AMQP_BASIC_HEADERS_FLAG) == 0) return {};
  for (int i = 0; i < p.headers.num_entries; ++i) {
    const auto& e = p.headers.entries[i];
    if (ToString(e.key) == key && (e.value.kind == AMQP_FIELD_KIND_UTF8 || e.value.kind == AMQP_FIELD_KIND_BYTES)) {
      return ToString(e.value.value.bytes);
    }
  }
  return {};
}

/// basic.get of one message; nullopt when the queue is empty.
base::Result<std::optional<std::pair<std::uint64_t, DeadLetter>>> Get(AmqpSession& session,
                                                                      const Topology& topology) {
  auto conn = static_cast<amqp_connection_state_t>(session.connection());
  amqp_maybe_release_buffers(conn);
  const amqp_rpc_reply_t r =
      amqp_basic_get(conn, 1, amqp_cstring_bytes(topology.dead_letter_queue.c_str()), 0);
  if (r.reply_type != AMQP_RESPONSE_NORMAL) {
    return base::Fail(base::Error::Unavailable("basic.get on the dead-letter queue failed"));
  }
  if (r.reply.id == AMQP_BASIC_GET_EMPTY_METHOD) return std::nullopt;
  const auto* ok = static_cast<amqp_basic_get_ok_t*>(r.reply.decoded);
  const std::uint64_t tag = ok->delivery_tag;
  DeadLetter d;
  d.routing_key = ToString(ok->routing_key);
  amqp_message_t message{};
  if (amqp_read_message(conn, 1, &message, 0).reply_type != AMQP_RESPONSE_NORMAL) {
    return base::Fail(base::Error::Unavailable("reading a dead letter failed"));
  }
  d.body = ToString(message.body);
  if ((message.properties._flags & AMQP_BASIC_MESSAGE_ID_FLAG) != 0) d.message_id = ToString(message.properties.message_id);
  d.reason = Header(message.properties, "x-analytics-reason");
  d.error = Header(message.properties, "x-analytics-error");
  d.dead_lettered_at = Header(message.properties, "x-dead-lettered-at");
  if (d.reason.empty()) d.reason = "delivery_limit";  // dead-lettered by the broker itself
  const auto original = Header(message.properties, "x-original-routing-key");
  if (!original.empty()) d.routing_key = original;
  amqp_destroy_message(&message);
  return std::make_optional(std::make_pair(tag, std::move(d)));
}

base::Result<std::unique_ptr<AmqpSession>> OpenDeclared(const std::string& url, const Topology& topology) {
  AmqpSession::Options o;
  o.url = url;
  auto session = AmqpSession::Open(o);
  if (!session) return base::Fail(session.error());
  if (auto s = (*session)->DeclareTopology(topology); !s) return base::Fail(s.error());
  return session;
}

}  // namespace

base::Result<std::vector<DeadLetter>> ListDeadLetters(const std::string& url, const Topology& topology,
                                                      std::size_t limit) {
  auto session = OpenDeclared(url, topology);
  if (!session) return base::Fail(session.error());
  std::vector<DeadLetter> out;
  std::uint64_t last_tag = 0;
  while (out.size() < limit) {
    auto got = Get(**session, topology);
    if (!got) return base::Fail(got.error());
    if (!*got) break;
    last_tag = (*got)->first;
    out.push_back(std::move((*got)->second));
  }
  if (last_tag != 0) {
    amqp_basic_nack(static_cast<amqp_connection_state_t>((*session)->connection()), 1, last_tag, 1, 1);
  }
  return out;
}

base::Result<std::size_t> ReplayDeadLetters(const std::string& url, const Topology& topology,
                                            std::size_t limit) {
  auto session = OpenDeclared(url, topology);
  if (!session) return base::Fail(session.error());
  AmqpPublisher::Options po;
  po.session.url = url;
  auto publisher = AmqpPublisher::Open(po);
  if (!publisher) return base::Fail(publisher.error());
  // Only what is there now: replayed messages that fail again come back to this queue, and
  // must not be replayed in a loop.
  auto counts = (*session)->QueueCounts(topology.dead_letter_queue);
  if (!counts) return base::Fail(counts.error());
  limit = std::min<std::size_t>(limit, counts->first);
  std::size_t replayed = 0;
  auto conn = static_cast<amqp_connection_state_t>((*session)->connection());
  while (replayed < limit) {
    auto got = Get(**session, topology);
    if (!got) return base::Fail(got.error());
    if (!*got) break;
    const auto& [tag, letter] = **got;
    if (auto s = (*publisher)->Publish(topology.exchange, letter.routing_key, letter.body, letter.message_id); !s) {
      return base::Fail(s.error());
    }
    if (auto s = (*publisher)->WaitForConfirms(std::chrono::seconds(30)); !s) return base::Fail(s.error());
    amqp_basic_ack(conn, 1, tag, 0);
    ++replayed;
  }
  return replayed;
}

}  // namespace adapters::amqp
