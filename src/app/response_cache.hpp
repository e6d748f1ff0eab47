#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "base/clock.hpp"
#include "domain/metric_result.hpp"

namespace app {

/// In-process cache of analytics answers keyed by the canonical query, each kept for `ttl`.
/// A `ttl` of zero disables it. Bounded: expired entries are dropped on every `Put`, answers of
/// more than `kMaxCachedRows` rows are not kept, and past `max_entries` the oldest half goes.
/// Thread-safe.
class ResponseCache {
 public:
  static constexpr std::size_t kMaxCachedRows = 20'000;

  ResponseCache(const base::Clock& clock, std::chrono::milliseconds ttl,
                std::size_t max_entries = 1000)
      : clock_(clock), ttl_(ttl), max_entries_(max_entries) {}

  bool enabled() const { return ttl_.count() > 0; }
  std::optional<domain::MetricResult> Get(const std::string& key);
  void Put(const std::string& key, const domain::MetricResult& result);

 private:
  struct Entry {
    base::TimePoint stored;
    domain::MetricResult result;
  };
  const base::Clock& clock_;
  const std::chrono::milliseconds ttl_;
  const std::size_t max_entries_;
  std::mutex mutex_;
  std::map<std::string, Entry> entries_;
};

}  // namespace app
