#pragma once

#include <chrono>
#include <string>
#include <string_view>

namespace app {

/// Request accounting and the Prometheus text exposition, for the HTTP adapter. Thread-safe.
class HttpMetrics {
 public:
  virtual ~HttpMetrics() = default;
  /// `route` is the route pattern (bounded cardinality), never the raw target.
  virtual void RequestServed(std::string_view route, int status,
                             std::chrono::duration<double> latency) = 0;
  /// A request refused by the rate limiter, by access class (analytics, ingest, admin).
  virtual void RequestThrottled(std::string_view access_class) = 0;
  /// A request refused for its credentials (401) or its rights (403), by access class.
  virtual void AccessRefused(std::string_view access_class, int status) = 0;
  /// Every metric of the process in the Prometheus text format 0.0.4.
  virtual std::string Render() const = 0;
};

}  // namespace app
