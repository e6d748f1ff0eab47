#include "app/response_cache.hpp"

#include <algorithm>
#include <vector>

namespace app {

std::optional<domain::MetricResult> ResponseCache::Get(const std::string& key) {
  if (!enabled()) return std::nullopt;
  const auto now = clock_.Now();
  std::lock_guard lock(mutex_);
  const auto it = entries_.find(key);
  if (it == entries_.end()) return std::nullopt;
  if (now - it->second.stored >= ttl_) {
    entries_.erase(it);
    return std::nullopt;
  }
  return it->second.result;
}

void ResponseCache::Put(const std::string& key, const domain::MetricResult& result) {
  // Huge answers (an hourly series over a year, grouped) would pin memory for little gain.
  if (!enabled() || result.data.items.size() > kMaxCachedRows) return;
  const auto now = clock_.Now();
  std::lock_guard lock(mutex_);
  std::erase_if(entries_, [&](const auto& kv) { return now - kv.second.stored >= ttl_; });
  if (entries_.size() >= max_entries_) {
    std::vector<std::pair<base::TimePoint, std::string>> by_age;
    for (const auto& [k, e] : entries_) by_age.emplace_back(e.stored, k);
    std::ranges::sort(by_age);
    for (std::size_t i = 0; i < by_age.size() / 2 + 1; ++i) entries_.erase(by_age[i].second);
  }
  entries_[key] = Entry{now, result};
}

}  // namespace app
