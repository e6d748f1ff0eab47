#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "base/result.hpp"

namespace adapters::http {

struct Request {
  std::string method;
  std::string path;
  std::map<std::string, std::string> query;
  std::string content_type;
  std::string body;
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

/// Sends the response of one request; callable once, from any thread.
using Responder = std::function<void(Response)>;
using Handler = std::function<void(Request&, Responder)>;

/// Observer of every answered request (metrics, access log).
using RequestObserver =
    std::function<void(const std::string& route, int status, std::chrono::duration<double>)>;

/// A small asynchronous HTTP/1.1 server on Boost.Beast: keep-alive, body and header limits
/// (413 past the body limit), routing on exact (method, path). Handlers may answer later from
/// another thread. `Run` serves on `threads` threads until `Stop`. Thread-safe.
class HttpServer {
 public:
  struct Options {
    std::string host = "0.0.0.0";
    std::uint16_t port = 3004;
    int threads = 2;
    std::size_t max_body_bytes = 32 * 1024 * 1024;
    std::chrono::seconds idle_timeout{60};
  };

  explicit HttpServer(Options options);
  ~HttpServer();

  void Route(std::string method, std::string path, Handler handler);
  /// Every registered (method, path), sorted.
  std::vector<std::pair<std::string, std::string>> Routes() const;
  void SetObserver(RequestObserver observer) { observer_ = std::move(observer); }

  /// Binds and listens; fails (naming the port) when the address is taken.
  base::Status Listen();
  /// The bound port (useful with port 0).
  std::uint16_t Port() const { return bound_port_; }
  /// Starts the worker threads; returns immediately.
  void Start();
  /// Stops accepting; requests in flight may still answer until `Join`.
  void StopAccepting();
  /// Waits up to `grace` for requests in flight, then stops the threads.
  void Shutdown(std::chrono::milliseconds grace);

  struct RouteEntry {
    Handler handler;
    std::string pattern;
  };
  const RouteEntry* Find(const std::string& method, const std::string& path, bool& path_known) const;
  RequestObserver& observer() { return observer_; }
  const Options& options() const { return options_; }
  std::atomic<int>& in_flight() { return in_flight_; }

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
  std::vector<std::thread> threads_;
  std::uint16_t bound_port_ = 0;
  std::atomic<int> in_flight_{0};
  std::atomic<bool> accepting_{false};
};

/// The one mapping of an Error to an HTTP status and the JSON error body
/// `{"error": {"code", "message", "field"?}}`.
Response ErrorResponse(const base::Error& error);
int HttpStatusOf(base::ErrorCode code);

}  // namespace adapters::http
