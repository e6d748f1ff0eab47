#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "base/result.hpp"

namespace loadgen {

struct HttpReply {
  int status = 0;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;

  /// The first header of that name (case-insensitive), "" when absent.
  std::string Header(std::string_view name) const;
};

using HeaderList = std::vector<std::pair<std::string, std::string>>;

/// A minimal blocking HTTP/1.1 client on one keep-alive connection (Boost.Beast), reconnecting
/// when the server closes it. For the load generator, benchmarks and black-box tests.
/// Not thread-safe: one per thread.
class HttpClient {
 public:
  HttpClient(std::string host, std::uint16_t port);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  base::Result<HttpReply> Send(const std::string& method, const std::string& target,
                               const std::string& body = {},
                               const std::string& content_type = "application/json",
                               const HeaderList& extra_headers = {});

  /// Sends `name: value` with every later request (credentials, for instance); an empty value
  /// stops sending it.
  void SetHeader(const std::string& name, const std::string& value);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// "http://host:port" -> (host, port).
base::Result<std::pair<std::string, std::uint16_t>> ParseHttpUrl(const std::string& url);

struct SendStats {
  std::uint64_t requests = 0;
  std::uint64_t retries = 0;
  std::uint64_t stored = 0;
  std::uint64_t duplicates = 0;
  std::uint64_t rejected = 0;
  double seconds = 0;
};

/// Posts every body (an NDJSON batch) to `POST /api/events` over `connections` parallel
/// connections, with `headers` (credentials) on each; 429 and 503 answers are retried (after
/// their Retry-After, or with backoff) until accepted, so nothing is lost.
/// `on_progress(done_requests)` runs from the sending threads. Fails on any other status.
base::Result<SendStats> SendBatches(const std::string& host, std::uint16_t port,
                                    const std::vector<std::string>& bodies, int connections,
                                    const std::function<void(std::uint64_t)>& on_progress = {},
                                    const HeaderList& headers = {});

}  // namespace loadgen
