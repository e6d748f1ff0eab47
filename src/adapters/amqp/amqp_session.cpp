#include "adapters/amqp/amqp_session.hpp"

#include <amqp.h>
#include <amqp_tcp_socket.h>
#include <fmt/format.h>

#include <cstring>

namespace adapters::amqp {
namespace {

amqp_connection_state_t Conn(void* p) { return static_cast<amqp_connection_state_t>(p); }

std::string ReplyText(const amqp_rpc_reply_t& r) {
  switch (r.reply_type) {
    case AMQP_RESPONSE_NORMAL: return "ok";
    case AMQP_RESPONSE_NONE: return "missing RPC reply";
    case AMQP_RESPONSE_LIBRARY_EXCEPTION: return amqp_error_string2(r.library_error);
    case AMQP_RESPONSE_SERVER_EXCEPTION:
      if (r.reply.id == AMQP_CONNECTION_CLOSE_METHOD) {
        const auto* m = static_cast<amqp_connection_close_t*>(r.reply.decoded);
        return fmt::format("connection closed by broker: {} {}", m->reply_code,
                           std::string_view(static_cast<const char*>(m->reply_text.bytes), m->reply_text.len));
      }
      if (r.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
        const auto* m = static_cast<amqp_channel_close_t*>(r.reply.decoded);
        return fmt::format("channel closed by broker: {} {}", m->reply_code,
                           std::string_view(static_cast<const char*>(m->reply_text.bytes), m->reply_text.len));
      }
      return fmt::format("broker error (method {:#x})", r.reply.id);
  }
  return "unknown reply";
}

amqp_bytes_t Bytes(const std::string& s) { return amqp_bytes_t{s.size(), const_cast<char*>(s.data())}; }

}  // namespace

std::optional<std::string> RpcError(void* conn, std::string_view what) {
  const amqp_rpc_reply_t r = amqp_get_rpc_reply(Conn(conn));
  if (r.reply_type == AMQP_RESPONSE_NORMAL) return std::nullopt;
  return fmt::format("{}: {}", what, ReplyText(r));
}

base::Result<std::unique_ptr<AmqpSession>> AmqpSession::Open(const Options& options) {
  std::string url = options.url;
  amqp_connection_info info{};
  amqp_default_connection_info(&info);
  if (amqp_parse_url(url.data(), &info) != AMQP_STATUS_OK) {
    return base::Fail(base::Error::InvalidArgument("RABBITMQ_URL is not an amqp:// URL", "RABBITMQ_URL"));
  }
  // "amqp://host/" names the empty vhost by the URI spec, but everyone means the default one.
  std::string default_vhost = "/";
  if (info.vhost == nullptr || info.vhost[0] == '\0') info.vhost = default_vhost.data();
  amqp_connection_state_t conn = amqp_new_connection();
  auto session = std::unique_ptr<AmqpSession>(new AmqpSession(conn));
  amqp_socket_t* socket = amqp_tcp_socket_new(conn);
  if (socket == nullptr) return base::Fail(base::Error::Unavailable("cannot create an AMQP socket"));
  timeval tv{static_cast<time_t>(options.connect_timeout.count()), 0};
  if (const int rc = amqp_socket_open_noblock(socket, info.host, info.port, &tv); rc != AMQP_STATUS_OK) {
    session->broken_ = true;
    return base::Fail(base::Error::Unavailable(
        fmt::format("cannot reach RabbitMQ at {}:{}: {}", info.host, info.port, amqp_error_string2(rc))));
  }
  const amqp_rpc_reply_t login =
      amqp_login(conn, info.vhost, 0, 131072, static_cast<int>(options.heartbeat.count()),
                 AMQP_SASL_METHOD_PLAIN, info.user, info.password);
  if (login.reply_type != AMQP_RESPONSE_NORMAL) {
    session->broken_ = true;
    return base::Fail(base::Error::Unavailable(fmt::format("RabbitMQ login failed: {}", ReplyText(login))));
  }
  amqp_channel_open(conn, 1);
  if (auto e = RpcError(conn, "channel.open")) {
    session->broken_ = true;
    return base::Fail(base::Error::Unavailable(*e));
  }
  if (options.prefetch > 0) {
    amqp_basic_qos(conn, 1, 0, static_cast<std::uint16_t>(std::min(options.prefetch, 65535)), 0);
    if (auto e = RpcError(conn, "basic.qos")) return base::Fail(base::Error::Unavailable(*e));
  }
  if (options.confirms) {
    amqp_confirm_select(conn, 1);
    if (auto e = RpcError(conn, "confirm.select")) return base::Fail(base::Error::Unavailable(*e));
  }
  return session;
}

AmqpSession::~AmqpSession() {
  auto conn = Conn(conn_);
  if (!broken_) {
    amqp_channel_close(conn, 1, AMQP_REPLY_SUCCESS);
    amqp_connection_close(conn, AMQP_REPLY_SUCCESS);
  }
  amqp_destroy_connection(conn);
}

base::Status AmqpSession::DeclareTopology(const Topology& t) {
  auto conn = Conn(conn_);
  auto fail = [this](const std::string& e) {
    broken_ = true;  // a failed declare closes the channel
    return base::Fail(base::Error::Unavailable(e));
  };
  amqp_exchange_declare(conn, 1, Bytes(t.exchange), amqp_cstring_bytes("topic"), 0, 1, 0, 0, amqp_empty_table);
  if (auto e = RpcError(conn, "declare exchange " + t.exchange)) return fail(*e);
  amqp_exchange_declare(conn, 1, Bytes(t.dead_letter_exchange), amqp_cstring_bytes("topic"), 0, 1, 0, 0,
                        amqp_empty_table);
  if (auto e = RpcError(conn, "declare exchange " + t.dead_letter_exchange)) return fail(*e);

  std::vector<amqp_table_entry_t> entries;
  entries.push_back({amqp_cstring_bytes("x-queue-type"), {AMQP_FIELD_KIND_UTF8, {}}});
  entries.back().value.value.bytes = Bytes(t.queue_type);
  entries.push_back({amqp_cstring_bytes("x-dead-letter-exchange"), {AMQP_FIELD_KIND_UTF8, {}}});
  entries.back().value.value.bytes = Bytes(t.dead_letter_exchange);
  if (t.queue_type == "quorum" && t.delivery_limit > 0) {
    entries.push_back({amqp_cstring_bytes("x-delivery-limit"), {AMQP_FIELD_KIND_I64, {}}});
    entries.back().value.value.i64 = t.delivery_limit;
  }
  const amqp_table_t args{static_cast<int>(entries.size()), entries.data()};
  amqp_queue_declare(conn, 1, Bytes(t.queue), 0, 1, 0, 0, args);
  if (auto e = RpcError(conn, "declare queue " + t.queue)) return fail(*e);
  amqp_queue_bind(conn, 1, Bytes(t.queue), Bytes(t.exchange), amqp_cstring_bytes("#"), amqp_empty_table);
  if (auto e = RpcError(conn, "bind queue " + t.queue)) return fail(*e);

  std::vector<amqp_table_entry_t> dead_entries;
  dead_entries.push_back({amqp_cstring_bytes("x-queue-type"), {AMQP_FIELD_KIND_UTF8, {}}});
  dead_entries.back().value.value.bytes = Bytes(t.queue_type);
  const amqp_table_t dead_args{static_cast<int>(dead_entries.size()), dead_entries.data()};
  amqp_queue_declare(conn, 1, Bytes(t.dead_letter_queue), 0, 1, 0, 0, dead_args);
  if (auto e = RpcError(conn, "declare queue " + t.dead_letter_queue)) return fail(*e);
  amqp_queue_bind(conn, 1, Bytes(t.dead_letter_queue), Bytes(t.dead_letter_exchange), amqp_cstring_bytes("#"),
                  amqp_empty_table);
  if (auto e = RpcError(conn, "bind queue " + t.dead_letter_queue)) return fail(*e);
  return {};
}

base::Result<std::pair<std::uint64_t, std::uint32_t>> AmqpSession::QueueCounts(const std::string& queue) {
  auto conn = Conn(conn_);
  const auto* ok = amqp_queue_declare(conn, 1, Bytes(queue), 1, 0, 0, 0, amqp_empty_table);
  if (auto e = RpcError(conn, "inspect queue " + queue); e || ok == nullptr) {
    broken_ = true;
    return base::Fail(base::Error::Unavailable(e.value_or("inspect queue failed")));
  }
  return std::make_pair(static_cast<std::uint64_t>(ok->message_count), ok->consumer_count);
}

}  // namespace adapters::amqp
