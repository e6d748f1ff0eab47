#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "base/clock.hpp"
#include "domain/metric_result.hpp"

namespace app {

/// In-process cache of analytics answers keyed by the canonical query, each kept for `ttl`.
/// A `ttl` of zero disables it. Bounded by entries and by bytes (an estimate of the heap the
/// answers hold, EstimateBytes): expired entries are dropped on every `Put`, an answer above
/// `max_bytes` / 8 is not kept, and past either bound the oldest entries go first. Thread-safe.
class ResponseCache {
 public:
  static constexpr std::size_t kDefaultMaxBytes = std::size_t{64} << 20;
  static constexpr std::size_t kDefaultMaxEntries = 1000;

  ResponseCache(const base::Clock& clock, std::chrono::milliseconds ttl,
                std::size_t max_entries = kDefaultMaxEntries,
                std::size_t max_bytes = kDefaultMaxBytes)
      : clock_(clock), ttl_(ttl), max_entries_(max_entries), max_bytes_(max_bytes) {}

  bool enabled() const { return ttl_.count() > 0; }
  std::optional<domain::MetricResult> Get(const std::string& key);
  void Put(const std::string& key, const domain::MetricResult& result);

  /// The largest answer kept, in estimated bytes.
  std::size_t max_entry_bytes() const { return max_bytes_ / 8; }
  /// Estimated bytes held by the entries now.
  std::size_t bytes() const;
  /// Heap bytes an answer holds: every value node, key and string, by capacity.
  static std::size_t EstimateBytes(const domain::MetricResult& result);

 private:
  struct Entry {
    base::TimePoint stored;
    domain::MetricResult result;
    std::size_t bytes = 0;
  };
  /// Drops expired entries, then the oldest until one more of `incoming` bytes fits.
  void MakeRoom(base::TimePoint now, std::size_t incoming);

  const base::Clock& clock_;
  const std::chrono::milliseconds ttl_;
  const std::size_t max_entries_;
  const std::size_t max_bytes_;
  mutable std::mutex mutex_;
  std::map<std::string, Entry> entries_;
  std::size_t bytes_ = 0;
};

}  // namespace app
