#pragma once

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "app/access_class.hpp"
#include "base/result.hpp"

namespace adapters::http {

using Headers = std::vector<std::pair<std::string, std::string>>;

struct Request {
  std::string method;
  /// The path as sent, with percent-encoded unreserved characters decoded and every other
  /// escape kept (upper-case hex): `%2F` stays `%2F`, so an encoded slash never separates.
  std::string path;
  /// Decoded query parameters; a name given twice is refused before any handler runs.
  std::map<std::string, std::string> query;
  std::string content_type;
  std::string body;
  std::optional<std::string> authorization;  ///< the Authorization header, when sent
  std::optional<std::string> api_key;        ///< the X-API-Key header, when sent
  std::string origin;                        ///< the Origin header ("" when absent)
  std::string client_address;
  bool from_loopback = false;
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  Headers headers;
};

/// Sends the response of one request; callable once, from any thread.
using Responder = std::function<void(Response)>;
using Handler = std::function<void(Request&, Responder)>;

/// Observer of every answered request (metrics, access log).
using RequestObserver =
    std::function<void(const std::string& route, int status, std::chrono::duration<double>)>;

/// The access of a route anybody may call (`/health`, `/ready`, the API description).
inline constexpr std::nullopt_t kOpenRoute = std::nullopt;

/// Decides about requests on protected routes before their handlers run, and about CORS on
/// every answer. Implementations are thread-safe.
class RequestGuard {
 public:
  struct Admission {
    std::optional<Response> refusal;  ///< sent instead of running the handler
    Headers headers;                  ///< added to the answer either way (rate-limit state)
    std::string principal;            ///< whom the request counts against, for the audit log
  };
  virtual ~RequestGuard() = default;
  /// Runs once the request's headers are read, before its body is.
  virtual Admission Admit(const Request& request, app::AccessClass access) = 0;
  /// The answer to `OPTIONS` on a known path whose routes allow `methods` (a CORS preflight
  /// when an Origin is sent).
  virtual Response Preflight(const Request& request, std::string_view methods) = 0;
  /// Adds the CORS headers `request` earns to `response`.
  virtual void Decorate(const Request& request, Response& response) const = 0;
  /// Called once for every answered request on a protected route.
  virtual void Answered(const Request& request, std::string_view route, app::AccessClass access,
                        std::string_view principal, int status,
                        std::chrono::duration<double> latency) = 0;
};

/// A small asynchronous HTTP/1.1 server on Boost.Beast with the limits a public endpoint needs:
/// URI (414), header (431) and body (413) sizes, an idle timeout between requests and a request
/// timeout from its first byte to its last (a client sending a byte a second is dropped), a cap
/// on open connections, and unambiguous framing (any Transfer-Encoding other than a lone
/// `chunked` is refused and the connection closed). Routing on exact (method, path); routes of
/// an access class pass the `RequestGuard` first. Handlers may answer later from another
/// thread; a handler's exception becomes a JSON 500. `Run` serves on `threads` threads until
/// `Shutdown`. Thread-safe.
class HttpServer {
 public:
  struct Options {
    std::string host = "0.0.0.0";
    std::uint16_t port = 3004;
    int threads = 2;
    std::size_t max_body_bytes = 32 * 1024 * 1024;
    std::size_t max_header_bytes = 16 * 1024;
    std::size_t max_uri_bytes = 8 * 1024;
    std::chrono::milliseconds idle_timeout{std::chrono::seconds(60)};
    std::chrono::milliseconds request_timeout{std::chrono::seconds(30)};
    std::size_t max_connections = 1024;
  };

  explicit HttpServer(Options options);
  ~HttpServer();

  /// Registers a handler. A route with an access class is protected (passes the guard);
  /// `kOpenRoute` marks one that anybody may call.
  void Route(std::string method, std::string path, std::optional<app::AccessClass> access,
             Handler handler);
  /// Every registered (method, path), sorted.
  std::vector<std::pair<std::string, std::string>> Routes() const;
  void SetObserver(RequestObserver observer) { observer_ = std::move(observer); }
  /// The guard of protected routes (not owned; must outlive the server). Without one, every
  /// route is open.
  void SetGuard(RequestGuard* guard) { guard_ = guard; }

  /// Binds and listens; fails (naming the port) when the address is taken.
  base::Status Listen();
  /// The bound port (useful with port 0).
  std::uint16_t Port() const { return bound_port_; }
  /// Starts the worker threads; returns immediately.
  void Start();
  /// Stops accepting; requests in flight may still answer until `Shutdown`.
  void StopAccepting();
  /// Waits up to `grace` for requests in flight, then stops the threads.
  void Shutdown(std::chrono::milliseconds grace);

  struct RouteEntry {
    Handler handler;
    std::string pattern;
    std::optional<app::AccessClass> access;
  };
  /// The route of (method, path); `methods` lists the methods the path has (empty: unknown).
  const RouteEntry* Find(const std::string& method, const std::string& path,
                         std::string& methods) const;
  RequestObserver& observer() { return observer_; }
  RequestGuard* guard() const { return guard_; }
  const Options& options() const { return options_; }
  std::atomic<int>& in_flight() { return in_flight_; }
  std::atomic<std::size_t>& connections() { return connections_; }

 private:
  void Accept();

  Options options_;
  boost::asio::io_context ioc_;
  // Keeps the threads running while handlers answer asynchronously with nothing else pending
  // (for instance after the acceptor closed at shutdown).
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::map<std::pair<std::string, std::string>, RouteEntry> routes_;
  RequestObserver observer_;
  RequestGuard* guard_ = nullptr;
  std::vector<std::thread> threads_;
  std::uint16_t bound_port_ = 0;
  std::atomic<int> in_flight_{0};
  std::atomic<std::size_t> connections_{0};
  std::atomic<bool> accepting_{false};
};

/// The one mapping of an Error to an HTTP status and the JSON error body
/// `{"error": {"code", "message", "field"?}}` (always valid UTF-8).
Response ErrorResponse(const base::Error& error);
int HttpStatusOf(base::ErrorCode code);

/// `path` with percent-escapes of unreserved characters decoded and the others upper-cased;
/// nothing when an escape is malformed. Exposed for tests.
std::optional<std::string> NormalizePath(std::string_view encoded_path);

}  // namespace adapters::http
