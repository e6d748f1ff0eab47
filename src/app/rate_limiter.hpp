#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "app/access_class.hpp"

namespace app {

/// Requests per minute per principal and access class, as a sliding window: in ANY 60-second
/// window, the requests a principal has had accepted in one class never exceed its limit.
///
/// Each principal keeps one counter per second of the last 61 seconds. A request accepted in
/// second k is counted until the end of second k + 60, i.e. as if it had arrived at the very
/// end of its second: conservative by under a second, never over the limit, and 61 counters
/// (about 300 bytes with the key) per principal whatever the limit is. Fixed minute buckets
/// would allow twice the limit across a bucket boundary; a log of timestamps would be exact
/// but cost 8 bytes per allowed request per principal. A principal with nothing counted is
/// idle and forgotten; at most `max_principals` are tracked per class, and a new principal
/// arriving when every tracked one is active is refused (`reason` kTableFull).
///
/// Thread-safe (sharded mutexes). Times are steady-clock instants passed in, so tests drive it.
class RateLimiter {
 public:
  using Instant = std::chrono::steady_clock::time_point;

  struct Options {
    /// Requests per minute per principal, by class; 0 means no limit.
    std::array<std::uint32_t, kAccessClasses.size()> per_minute{100, 100, 100, 0};
    /// (class, principal id) -> limit, overriding the class's default for that principal.
    std::map<std::pair<AccessClass, std::string>, std::uint32_t> overrides;
    std::size_t max_principals = 50'000;
  };

  enum class Reason { kAllowed, kLimited, kTableFull };
  struct Decision {
    bool allowed = true;
    Reason reason = Reason::kAllowed;
    std::uint32_t limit = 0;      ///< 0: this principal is not limited in this class
    std::uint32_t remaining = 0;  ///< requests still allowed now, after this one
    /// When refused: the earliest wait after which the same request is accepted (whole
    /// seconds, at least 1). When allowed: the wait until one more request frees up.
    std::chrono::seconds reset{0};
  };

  explicit RateLimiter(Options options);
  ~RateLimiter();
  RateLimiter(const RateLimiter&) = delete;
  RateLimiter& operator=(const RateLimiter&) = delete;

  /// Counts the request if the principal is under its limit.
  Decision Admit(AccessClass access, std::string_view principal, Instant now);

  /// Principals tracked now in `access` (including idle ones not yet swept).
  std::size_t Tracked(AccessClass access) const;

 private:
  struct Table;
  Options options_;
  std::array<std::unique_ptr<Table>, kAccessClasses.size()> tables_;
};

}  // namespace app
