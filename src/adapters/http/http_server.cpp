#include "adapters/http/http_server.hpp"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <boost/url/parse.hpp>

#include "base/log.hpp"

namespace adapters::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;

int HttpStatusOf(base::ErrorCode code) {
  switch (code) {
    case base::ErrorCode::kInvalidArgument: return 400;
    case base::ErrorCode::kUnauthenticated: return 401;
    case base::ErrorCode::kPermissionDenied: return 403;
    case base::ErrorCode::kNotFound: return 404;
    case base::ErrorCode::kPayloadTooLarge: return 413;
    case base::ErrorCode::kResourceExhausted: return 429;
    case base::ErrorCode::kFailedPrecondition: return 400;
    case base::ErrorCode::kUnavailable: return 503;
    case base::ErrorCode::kInternal: return 500;
  }
  return 500;
}

Response ErrorResponse(const base::Error& error) {
  boost::json::object inner;
  inner["code"] = base::ErrorCodeName(error.code);
  // Internal errors never leak details (SQL, paths) to clients; they are logged instead.
  inner["message"] = error.code == base::ErrorCode::kInternal ? "internal error" : error.message;
  if (!error.field.empty()) inner["field"] = error.field;
  boost::json::object body;
  body["error"] = std::move(inner);
  Response r;
  r.status = HttpStatusOf(error.code);
  r.body = boost::json::serialize(body);
  if (error.code == base::ErrorCode::kUnavailable || error.code == base::ErrorCode::kResourceExhausted) {
    r.headers.emplace_back("Retry-After", "1");
  }
  return r;
}

namespace {

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, HttpServer& server)
      : stream_(std::move(socket)), server_(server) {}

  void Start() {
    asio::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->Read(); });
  }

 private:
  void Read() {
    parser_.emplace();
    parser_->body_limit(server_.options().max_body_bytes);
    parser_->header_limit(16 * 1024);
    stream_.expires_after(server_.options().idle_timeout);
    bhttp::async_read_header(stream_, buffer_, *parser_,
                             [self = shared_from_this()](beast::error_code ec, std::size_t) {
                               self->OnHeader(ec);
                             });
  }

  void OnHeader(beast::error_code ec) {
    if (ec) return OnRead(ec);
    // Clients such as curl wait (about a second) for this before sending a larger body.
    if (beast::iequals(parser_->get()[bhttp::field::expect], "100-continue")) {
      auto cont = std::make_shared<bhttp::response<bhttp::empty_body>>(bhttp::status::continue_,
                                                                         parser_->get().version());
      bhttp::async_write(stream_, *cont,
                         [self = shared_from_this(), cont](beast::error_code wec, std::size_t) {
                           if (wec) return self->Close();
                           self->ReadBody();
                         });
      return;
    }
    ReadBody();
  }

  void ReadBody() {
    bhttp::async_read(stream_, buffer_, *parser_,
                      [self = shared_from_this()](beast::error_code ec, std::size_t) {
                        self->OnRead(ec);
                      });
  }

  void OnRead(beast::error_code ec) {
    if (ec == bhttp::error::end_of_stream || ec == beast::error::timeout ||
        ec == asio::error::connection_reset || ec == asio::error::operation_aborted) {
      return Close();
    }
    started_ = std::chrono::steady_clock::now();
    if (ec == bhttp::error::body_limit) {
      keep_alive_ = false;
      return Send("(body limit)",
                  ErrorResponse({base::ErrorCode::kPayloadTooLarge,
                                 "the request body is larger than " +
                                     std::to_string(server_.options().max_body_bytes) + " bytes",
                                 "body"}));
    }
    if (ec) {
      keep_alive_ = false;
      return Send("(bad request)", ErrorResponse(base::Error::InvalidArgument(
                                       "malformed HTTP request: " + ec.message())));
    }
    auto msg = parser_->release();
    keep_alive_ = msg.keep_alive();
    version_ = msg.version();
    Request req;
    req.method = std::string(msg.method_string());
    const auto target = std::string(msg.target());
    auto url = boost::urls::parse_origin_form(target);
    if (!url) {
      return Send("(bad request)",
                  ErrorResponse(base::Error::InvalidArgument("malformed request target")));
    }
    req.path = std::string(url->path());
    for (const auto& p : url->params()) req.query[std::string(p.key)] = std::string(p.value);
    req.content_type = std::string(msg[bhttp::field::content_type]);
    req.body = std::move(msg.body());

    bool path_known = false;
    const auto* route = server_.Find(req.method, req.path, path_known);
    if (route == nullptr) {
      return Send(path_known ? "(method not allowed)" : "(not found)",
                  ErrorResponse({path_known ? base::ErrorCode::kInvalidArgument
                                            : base::ErrorCode::kNotFound,
                                 path_known ? "method " + req.method + " is not allowed here"
                                            : "no route " + req.path,
                                 ""}),
                  path_known ? 405 : 0);
    }
    route_ = route->pattern;
    ++server_.in_flight();
    auto self = shared_from_this();
    try {
      route->handler(req, [self](Response response) {
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

  void Send(const std::string& route, Response r, int status_override = 0) {
    if (status_override != 0) r.status = status_override;
    auto res = std::make_shared<bhttp::response<bhttp::string_body>>(
        static_cast<bhttp::status>(r.status), version_ == 0 ? 11 : version_);
    res->set(bhttp::field::server, "analytics-service");
    res->set(bhttp::field::content_type, r.content_type);
    for (auto& [k, v] : r.headers) res->set(k, v);
    res->body() = std::move(r.body);
    res->keep_alive(keep_alive_);
    res->prepare_payload();
    if (server_.observer()) {
      server_.observer()(route, r.status, std::chrono::steady_clock::now() - started_);
    }
    stream_.expires_after(std::chrono::seconds(30));
    bhttp::async_write(stream_, *res,
                       [self = shared_from_this(), res](beast::error_code ec, std::size_t) {
                         if (ec || !self->keep_alive_) return self->Close();
                         self->Read();
                       });
  }

  void Close() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
  }

  beast::tcp_stream stream_;
  HttpServer& server_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  bool keep_alive_ = true;
  unsigned version_ = 11;
  std::string route_;
  std::chrono::steady_clock::time_point started_;
};

}  // namespace

HttpServer::HttpServer(Options options)
    : options_(std::move(options)), work_(boost::asio::make_work_guard(ioc_)), acceptor_(ioc_) {}

HttpServer::~HttpServer() { Shutdown(std::chrono::milliseconds(0)); }

void HttpServer::Route(std::string method, std::string path, Handler handler) {
  std::string pattern = path;
  routes_[{std::move(method), std::move(path)}] = RouteEntry{std::move(handler), pattern};
}

const HttpServer::RouteEntry* HttpServer::Find(const std::string& method, const std::string& path,
                                               bool& path_known) const {
  const auto it = routes_.find({method, path});
  if (it != routes_.end()) return &it->second;
  path_known = false;
  for (const auto& [key, entry] : routes_) {
    if (key.second == path) path_known = true;
  }
  return nullptr;
}

base::Status HttpServer::Listen() {
  beast::error_code ec;
  const auto address = asio::ip::make_address(options_.host, ec);
  if (ec) return base::Fail(base::Error::InvalidArgument("bad listen address " + options_.host, "HOST"));
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
    if (!ec) {
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
