#include "adapters/http/http_server.hpp"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <boost/url/parse.hpp>

#include "base/json_string.hpp"
#include "base/log.hpp"

namespace adapters::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;

int HttpStatusOf(base::ErrorCode code) {
  switch (code) {
    case base::ErrorCode::kInvalidArgument:
      return 400;
    case base::ErrorCode::kUnauthenticated:
      return 401;
    case base::ErrorCode::kPermissionDenied:
      return 403;
    case base::ErrorCode::kNotFound:
      return 404;
    case base::ErrorCode::kPayloadTooLarge:
      return 413;
    case base::ErrorCode::kResourceExhausted:
      return 429;
    case base::ErrorCode::kFailedPrecondition:
      return 400;
    case base::ErrorCode::kUnavailable:
      return 503;
    case base::ErrorCode::kInternal:
      return 500;
  }
  return 500;
}

namespace {

// The one JSON error body: {"error": {"code", "message", "field"?}}, valid UTF-8 whatever the
// message quotes (a parameter value, a path).
std::string ErrorBody(std::string_view code, std::string_view message, std::string_view field) {
  boost::json::object inner;
  inner["code"] = code;
  inner["message"] = base::ValidUtf8(message);
  if (!field.empty()) inner["field"] = base::ValidUtf8(field);
  boost::json::object body;
  body["error"] = std::move(inner);
  return boost::json::serialize(body);
}

}  // namespace

Response ErrorResponse(const base::Error& error) {
  Response r;
  r.status = HttpStatusOf(error.code);
  // Internal errors never leak details (SQL, paths) to clients; they are logged instead.
  r.body = ErrorBody(base::ErrorCodeName(error.code),
                     error.code == base::ErrorCode::kInternal ? "internal error" : error.message,
                     error.field);
  if (error.code == base::ErrorCode::kUnavailable ||
      error.code == base::ErrorCode::kResourceExhausted) {
    r.headers.emplace_back("Retry-After", "1");
  }
  return r;
}

namespace {

bool IsUnreserved(unsigned char c) {
  return std::isalnum(c) != 0 || c == '-' || c == '.' || c == '_' || c == '~';
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// A refusal at the protocol level (414, 431, 501 ...), in the one error shape, with a code
// naming what happened.
Response Refusal(int status, std::string_view code, std::string_view message) {
  Response r;
  r.status = status;
  r.body = ErrorBody(code, message, {});
  return r;
}

bool IsLoopback(const asio::ip::address& a) {
  if (a.is_loopback()) return true;
  return a.is_v6() && a.to_v6().is_v4_mapped() &&
         asio::ip::make_address_v4(asio::ip::v4_mapped, a.to_v6()).is_loopback();
}

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, HttpServer& server) : stream_(std::move(socket)), server_(server) {
    ++server_.connections();
    beast::error_code ec;
    const auto endpoint = stream_.socket().remote_endpoint(ec);
    if (!ec) {
      address_ = endpoint.address().is_v6() && endpoint.address().to_v6().is_v4_mapped()
                     ? asio::ip::make_address_v4(asio::ip::v4_mapped, endpoint.address().to_v6())
                           .to_string()
                     : endpoint.address().to_string();
      loopback_ = IsLoopback(endpoint.address());
    }
  }
  ~Session() { --server_.connections(); }

  void Start() {
    asio::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->Read(); });
  }

 private:
  void Read() {
    parser_.emplace();
    parser_->body_limit(server_.options().max_body_bytes);
    // The start line and the fields share Beast's one header limit; each part is checked on
    // its own once the header is in (or from the buffer when the whole limit is exceeded).
    parser_->header_limit(static_cast<std::uint32_t>(server_.options().max_header_bytes +
                                                     server_.options().max_uri_bytes + 1024));
    request_ = Request{};
    admission_ = RequestGuard::Admission{};
    route_.clear();
    access_.reset();
    if (buffer_.size() > 0) return ReadHeader();
    // Between requests the connection may idle; once a request starts, it has the request
    // timeout to arrive completely.
    stream_.expires_after(server_.options().idle_timeout);
    stream_.async_read_some(buffer_.prepare(4096),
                            [self = shared_from_this()](beast::error_code ec, std::size_t n) {
                              if (ec) return self->OnRead(ec);
                              self->buffer_.commit(n);
                              self->ReadHeader();
                            });
  }

  void ReadHeader() {
    stream_.expires_after(server_.options().request_timeout);
    bhttp::async_read_header(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, std::size_t) { self->OnHeader(ec); });
  }

  void OnHeader(beast::error_code ec) {
    started_ = std::chrono::steady_clock::now();
    if (ec == bhttp::error::header_limit) {
      // The parser has the target once the request line is complete: without one, the request
      // line itself was too long.
      const bool uri = parser_->get().target().empty();
      return Fail(uri ? 414 : 431, uri ? "uri_too_long" : "headers_too_large",
                  uri ? "the request target is longer than " +
                            std::to_string(server_.options().max_uri_bytes) + " bytes"
                      : "the request headers are larger than " +
                            std::to_string(server_.options().max_header_bytes) + " bytes");
    }
    if (ec) return OnRead(ec);
    const auto& header = parser_->get();
    version_ = header.version();
    keep_alive_ = header.keep_alive();
    if (auto refusal = CheckFraming(header)) return Fail(refusal->status, std::move(*refusal));

    request_.method = std::string(header.method_string());
    const auto target = std::string(header.target());
    auto url = boost::urls::parse_origin_form(target);
    auto path = url ? NormalizePath(url->encoded_path()) : std::nullopt;
    if (!path) return Fail(400, "invalid_argument", "malformed request target");
    request_.path = std::move(*path);
    for (const auto& p : url->params()) {
      auto key = std::string(p.key);
      if (!request_.query.emplace(key, std::string(p.value)).second) {
        return Fail(400, ErrorResponse(base::Error::InvalidArgument(
                             "parameter '" + key + "' is given more than once", key)));
      }
    }
    request_.content_type = std::string(header[bhttp::field::content_type]);
    if (const auto it = header.find(bhttp::field::authorization); it != header.end()) {
      request_.authorization = std::string(it->value());
    }
    if (const auto it = header.find("X-API-Key"); it != header.end()) {
      request_.api_key = std::string(it->value());
    }
    request_.origin = std::string(header[bhttp::field::origin]);
    request_.client_address = address_;
    request_.from_loopback = loopback_;

    std::string methods;
    const auto* route = server_.Find(request_.method, request_.path, methods);
    if (route == nullptr) {
      if (!methods.empty() && request_.method == "OPTIONS" && server_.guard() != nullptr) {
        return Discard(server_.guard()->Preflight(request_, methods), "(preflight)");
      }
      if (!methods.empty()) {
        auto r = ErrorResponse(base::Error::InvalidArgument(
            "method " + request_.method + " is not allowed here; allowed: " + methods));
        r.status = 405;
        r.headers.emplace_back("Allow", methods);
        return Discard(std::move(r), "(method not allowed)");
      }
      return Discard(ErrorResponse({base::ErrorCode::kNotFound, "no route " + request_.path, ""}),
                     "(not found)");
    }
    route_ = route->pattern;
    handler_ = &route->handler;
    access_ = route->access;
    if (access_ && server_.guard() != nullptr) {
      admission_ = server_.guard()->Admit(request_, *access_);
      // Refused before the body is read: nobody without the right to post gets to make the
      // service read 32 MiB; the connection closes, as the unread body cannot be skipped.
      if (admission_.refusal) return Discard(std::move(*admission_.refusal), route_);
    }
    // Clients such as curl wait (about a second) for this before sending a larger body.
    if (beast::iequals(header[bhttp::field::expect], "100-continue")) {
      auto cont =
          std::make_shared<bhttp::response<bhttp::empty_body>>(bhttp::status::continue_, version_);
      bhttp::async_write(stream_, *cont,
                         [self = shared_from_this(), cont](beast::error_code wec, std::size_t) {
                           if (wec) return self->Close();
                           self->ReadBody();
                         });
      return;
    }
    ReadBody();
  }

  /// A refusal for framing a proxy could read differently than we do, or nothing.
  std::optional<Response> CheckFraming(
      const bhttp::request_parser<bhttp::string_body>::value_type& header) {
    std::size_t fields_bytes = 0;
    int transfer_encodings = 0;
    bool chunked_only = true;
    for (const auto& f : header) {
      fields_bytes += f.name_string().size() + f.value().size() + 4;
      if (f.name() == bhttp::field::transfer_encoding) {
        ++transfer_encodings;
        std::string_view v = f.value();
        while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
        while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
        chunked_only = chunked_only && beast::iequals(v, "chunked");
      }
    }
    if (header.target().size() > server_.options().max_uri_bytes) {
      return Refusal(414, "uri_too_long",
                     "the request target is longer than " +
                         std::to_string(server_.options().max_uri_bytes) + " bytes");
    }
    if (fields_bytes > server_.options().max_header_bytes) {
      return Refusal(431, "headers_too_large",
                     "the request headers are larger than " +
                         std::to_string(server_.options().max_header_bytes) + " bytes");
    }
    if (transfer_encodings > 0) {
      if (transfer_encodings > 1 || !chunked_only) {
        return Refusal(501, "not_implemented",
                       "only 'Transfer-Encoding: chunked' is supported, alone");
      }
      if (header.find(bhttp::field::content_length) != header.end()) {
        return Refusal(400, "invalid_argument",
                       "a request may not carry both Transfer-Encoding and Content-Length");
      }
      if (version_ < 11) {
        return Refusal(400, "invalid_argument", "Transfer-Encoding needs HTTP/1.1");
      }
    }
    return std::nullopt;
  }

  void ReadBody() {
    bhttp::async_read(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, std::size_t) { self->OnRead(ec); });
  }

  void OnRead(beast::error_code ec) {
    if (ec == bhttp::error::end_of_stream || ec == beast::error::timeout ||
        ec == asio::error::connection_reset || ec == asio::error::operation_aborted ||
        ec == asio::error::eof) {
      return Close();
    }
    if (ec == bhttp::error::body_limit) {
      return Fail(413,
                  ErrorResponse({base::ErrorCode::kPayloadTooLarge,
                                 "the request body is larger than " +
                                     std::to_string(server_.options().max_body_bytes) + " bytes",
                                 "body"}));
    }
    if (ec) {
      return Fail(400, ErrorResponse(base::Error::InvalidArgument("malformed HTTP request: " +
                                                                  ec.message())));
    }
    request_.body = std::move(parser_->get().body());
    ++server_.in_flight();
    auto self = shared_from_this();
    try {
      (*handler_)(request_, [self](Response response) {
        asio::post(self->stream_.get_executor(), [self, r = std::move(response)]() mutable {
          --self->server_.in_flight();
          self->Send(self->route_, std::move(r));
        });
      });
    } catch (const std::exception& e) {
      base::log::Error("http.handler_exception", {{"route", route_}, {"error", e.what()}});
      --server_.in_flight();
      Send(route_, ErrorResponse(base::Error::Internal(e.what())));
    }
  }

  /// Answers without reading the body, then closes unless there was none to skip.
  void Discard(Response r, const std::string& route) {
    const auto& header = parser_->get();
    const bool has_body = header.find(bhttp::field::content_length) != header.end()
                              ? header[bhttp::field::content_length] != "0"
                              : header.find(bhttp::field::transfer_encoding) != header.end();
    if (has_body) keep_alive_ = false;
    Send(route, std::move(r));
  }

  void Fail(int status, std::string_view code, const std::string& message) {
    Fail(status, Refusal(status, code, message));
  }
  void Fail(int status, Response r) {
    keep_alive_ = false;
    r.status = status;
    Send(route_.empty() ? std::string("(refused)") : route_, std::move(r));
  }

  void Send(const std::string& route, Response r) {
    auto res = std::make_shared<bhttp::response<bhttp::string_body>>(
        static_cast<bhttp::status>(r.status), version_ == 0 ? 11 : version_);
    res->set(bhttp::field::server, "analytics-service");
    res->set(bhttp::field::content_type, r.content_type);
    res->set("X-Content-Type-Options", "nosniff");
    res->set(bhttp::field::cache_control, "no-store");
    for (auto& [k, v] : admission_.headers) res->insert(k, v);
    if (server_.guard() != nullptr) server_.guard()->Decorate(request_, r);
    for (auto& [k, v] : r.headers) res->insert(k, v);
    res->body() = std::move(r.body);
    res->keep_alive(keep_alive_);
    res->prepare_payload();
    const auto latency = std::chrono::steady_clock::now() - started_;
    if (server_.observer()) server_.observer()(route, r.status, latency);
    if (access_ && server_.guard() != nullptr) {
      server_.guard()->Answered(request_, route, *access_, admission_.principal, r.status, latency);
    }
    stream_.expires_after(server_.options().request_timeout);
    bhttp::async_write(stream_, *res,
                       [self = shared_from_this(), res](beast::error_code ec, std::size_t) {
                         if (ec) return self->Close();
                         if (!self->keep_alive_) return self->Linger();
                         self->Read();
                       });
  }

  // After the answer to a request whose rest is unread: stop sending, then read and drop what
  // the client still sends for a moment, so that closing does not reset the connection before
  // the client has read the answer.
  void Linger() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    if (ec) return;
    stream_.expires_after(std::chrono::seconds(2));
    DrainSome(0);
  }

  void DrainSome(std::size_t drained) {
    if (drained > (1u << 20)) return Close();
    buffer_.clear();
    stream_.async_read_some(buffer_.prepare(16 * 1024), [self = shared_from_this(), drained](
                                                            beast::error_code ec, std::size_t n) {
      if (ec) return self->Close();
      self->DrainSome(drained + n);
    });
  }

  void Close() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
    stream_.socket().close(ec);
  }

  beast::tcp_stream stream_;
  HttpServer& server_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  Request request_;
  RequestGuard::Admission admission_;
  const Handler* handler_ = nullptr;
  std::optional<app::AccessClass> access_;
  std::string address_;
  bool loopback_ = false;
  bool keep_alive_ = true;
  unsigned version_ = 11;
  std::string route_;
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
};

}  // namespace

std::optional<std::string> NormalizePath(std::string_view encoded) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(encoded.size());
  for (std::size_t i = 0; i < encoded.size(); ++i) {
    if (encoded[i] != '%') {
      out.push_back(encoded[i]);
      continue;
    }
    if (i + 2 >= encoded.size()) return std::nullopt;
    const int hi = HexValue(encoded[i + 1]);
    const int lo = HexValue(encoded[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    const auto c = static_cast<unsigned char>(hi * 16 + lo);
    if (IsUnreserved(c)) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[hi]);
      out.push_back(kHex[lo]);
    }
    i += 2;
  }
  return out;
}

HttpServer::HttpServer(Options options)
    : options_(std::move(options)), work_(boost::asio::make_work_guard(ioc_)), acceptor_(ioc_) {}

HttpServer::~HttpServer() { Shutdown(std::chrono::milliseconds(0)); }

void HttpServer::Route(std::string method, std::string path, std::optional<app::AccessClass> access,
                       Handler handler) {
  std::string pattern = path;
  routes_[{std::move(method), std::move(path)}] = RouteEntry{std::move(handler), pattern, access};
}

const HttpServer::RouteEntry* HttpServer::Find(const std::string& method, const std::string& path,
                                               std::string& methods) const {
  const auto it = routes_.find({method, path});
  if (it != routes_.end()) return &it->second;
  methods.clear();
  for (const auto& [key, entry] : routes_) {
    if (key.second != path) continue;
    if (!methods.empty()) methods += ", ";
    methods += key.first;
  }
  return nullptr;
}

base::Status HttpServer::Listen() {
  beast::error_code ec;
  const auto address = asio::ip::make_address(options_.host, ec);
  if (ec)
    return base::Fail(base::Error::InvalidArgument("bad listen address " + options_.host, "HOST"));
  const tcp::endpoint endpoint(address, options_.port);
  acceptor_.open(endpoint.protocol(), ec);
  if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(endpoint, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return base::Fail(base::Error::Unavailable("cannot listen on " + options_.host + ":" +
                                               std::to_string(options_.port) + ": " +
                                               ec.message()));
  }
  bound_port_ = acceptor_.local_endpoint().port();
  accepting_ = true;
  Accept();
  return {};
}

std::vector<std::pair<std::string, std::string>> HttpServer::Routes() const {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& [key, entry] : routes_) out.push_back(key);
  return out;
}

void HttpServer::Accept() {
  acceptor_.async_accept(asio::make_strand(ioc_), [this](beast::error_code ec, tcp::socket socket) {
    if (!accepting_) return;
    if (!ec && connections_.load() >= options_.max_connections) {
      // Over the cap: a short answer on the fresh socket (its send buffer takes it at once),
      // then close, instead of holding one more connection.
      static constexpr std::string_view kBusy =
          "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
          "Retry-After: 1\r\nConnection: close\r\nContent-Length: 85\r\n\r\n"
          "{\"error\":{\"code\":\"unavailable\",\"message\":\"too many connections; retry "
          "shortly\"}}";
      socket.non_blocking(true, ec);
      socket.write_some(asio::buffer(kBusy.data(), kBusy.size()), ec);
      socket.shutdown(tcp::socket::shutdown_both, ec);
      socket.close(ec);
    } else if (!ec) {
      socket.set_option(tcp::no_delay(true), ec);
      std::make_shared<Session>(std::move(socket), *this)->Start();
    }
    Accept();
  });
}

void HttpServer::Start() {
  for (int i = 0; i < std::max(1, options_.threads); ++i) {
    threads_.emplace_back([this] { ioc_.run(); });
  }
}

void HttpServer::StopAccepting() {
  if (!accepting_.exchange(false)) return;
  asio::post(ioc_, [this] {
    beast::error_code ec;
    acceptor_.close(ec);
  });
}

void HttpServer::Shutdown(std::chrono::milliseconds grace) {
  StopAccepting();
  const auto deadline = std::chrono::steady_clock::now() + grace;
  while (in_flight_.load() > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  // Let the last responses go out before the threads stop.
  if (grace.count() > 0) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  work_.reset();
  ioc_.stop();
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
}

}  // namespace adapters::http
