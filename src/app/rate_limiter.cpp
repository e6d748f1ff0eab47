#include "app/rate_limiter.hpp"

#include <algorithm>
#include <functional>
#include <mutex>
#include <string>
#include <unordered_map>

namespace app {
namespace {

// Seconds of history: the current second and the 60 before it (see the class comment).
constexpr std::int64_t kSlots = 61;
constexpr std::size_t kShards = 16;

struct StringHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

struct Window {
  std::int64_t newest = 0;  // the latest second counted into `counts`
  std::array<std::uint32_t, kSlots> counts{};

  // Moves the window to second `now`, clearing the seconds that fell out of it.
  void Advance(std::int64_t now) {
    if (now <= newest) return;
    const std::int64_t steps = std::min(now - newest, kSlots);
    for (std::int64_t k = now - steps + 1; k <= now; ++k)
      counts[static_cast<std::size_t>(k % kSlots)] = 0;
    newest = now;
  }
  std::uint32_t At(std::int64_t second) const {
    return counts[static_cast<std::size_t>(second % kSlots)];
  }
  bool IsIdle(std::int64_t now) const { return newest < now - (kSlots - 1); }
};

std::chrono::seconds CeilSeconds(std::int64_t ms) {
  return std::chrono::seconds(std::max<std::int64_t>(1, (ms + 999) / 1000));
}

}  // namespace

struct RateLimiter::Table {
  struct Shard {
    std::mutex mutex;
    std::unordered_map<std::string, Window, StringHash, std::equal_to<>> windows;
  };
  std::array<Shard, kShards> shards;
  std::size_t per_shard = 1;
};

RateLimiter::RateLimiter(Options options) : options_(std::move(options)) {
  for (auto& t : tables_) {
    t = std::make_unique<Table>();
    t->per_shard = std::max<std::size_t>(1, (options_.max_principals + kShards - 1) / kShards);
  }
}

RateLimiter::~RateLimiter() = default;

RateLimiter::Decision RateLimiter::Admit(AccessClass access, std::string_view principal,
                                         Instant now) {
  std::uint32_t limit = options_.per_minute[Index(access)];
  if (!options_.overrides.empty()) {
    const auto it = options_.overrides.find({access, std::string(principal)});
    if (it != options_.overrides.end()) limit = it->second;
  }
  if (limit == 0) return Decision{};

  const auto now_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  const std::int64_t second = now_ms / 1000;
  const auto expiry_ms = [](std::int64_t k) { return (k + kSlots) * 1000; };

  auto& table = *tables_[Index(access)];
  auto& shard = table.shards[StringHash{}(principal) % kShards];
  std::lock_guard lock(shard.mutex);
  auto it = shard.windows.find(principal);
  if (it == shard.windows.end()) {
    if (shard.windows.size() >= table.per_shard) {
      std::erase_if(shard.windows, [&](const auto& entry) { return entry.second.IsIdle(second); });
    }
    if (shard.windows.size() >= table.per_shard) {
      return Decision{false, Reason::kTableFull, limit, 0, std::chrono::seconds(1)};
    }
    it = shard.windows.emplace(std::string(principal), Window{second, {}}).first;
  }
  Window& w = it->second;
  w.Advance(second);
  std::uint64_t counted = 0;
  for (const auto c : w.counts) counted += c;

  if (counted < limit) {
    ++w.counts[static_cast<std::size_t>(second % kSlots)];
    std::int64_t oldest = second;
    for (std::int64_t k = second - (kSlots - 1); k <= second; ++k) {
      if (w.At(k) > 0) {
        oldest = k;
        break;
      }
    }
    return Decision{true, Reason::kAllowed, limit, static_cast<std::uint32_t>(limit - counted - 1),
                    CeilSeconds(expiry_ms(oldest) - now_ms)};
  }
  // The earliest instant at which, with no new request accepted meanwhile, fewer than `limit`
  // requests are still counted: expire the oldest seconds until that holds.
  std::uint64_t left = counted;
  std::int64_t frees_at = expiry_ms(second);
  for (std::int64_t k = second - (kSlots - 1); k <= second; ++k) {
    left -= w.At(k);
    if (left < limit) {
      frees_at = expiry_ms(k);
      break;
    }
  }
  return Decision{false, Reason::kLimited, limit, 0, CeilSeconds(frees_at - now_ms)};
}

std::size_t RateLimiter::Tracked(AccessClass access) const {
  std::size_t n = 0;
  for (auto& shard : tables_[Index(access)]->shards) {
    std::lock_guard lock(shard.mutex);
    n += shard.windows.size();
  }
  return n;
}

}  // namespace app
