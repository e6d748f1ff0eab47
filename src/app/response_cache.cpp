#include "app/response_cache.hpp"

#include <algorithm>
#include <vector>

namespace app {
namespace {

std::size_t HeapBytes(const std::string& s) {
  // Short strings live inside the object (SSO); longer ones hold capacity + 1 on the heap.
  return s.capacity() > std::string().capacity() ? s.capacity() + 1 : 0;
}

std::size_t HeapBytes(const domain::Value& v) {
  std::size_t n = HeapBytes(v.s) + v.items.capacity() * sizeof(domain::Value) +
                  v.keys.capacity() * sizeof(std::string);
  for (const auto& k : v.keys) n += HeapBytes(k);
  for (const auto& item : v.items) n += HeapBytes(item);
  return n;
}

}  // namespace

std::size_t ResponseCache::EstimateBytes(const domain::MetricResult& result) {
  std::size_t n = sizeof(domain::MetricResult) + HeapBytes(result.data);
  if (result.summary) n += HeapBytes(*result.summary);
  return n;
}

std::size_t ResponseCache::bytes() const {
  std::lock_guard lock(mutex_);
  return bytes_;
}

std::optional<domain::MetricResult> ResponseCache::Get(const std::string& key) {
  if (!enabled()) return std::nullopt;
  const auto now = clock_.Now();
  std::lock_guard lock(mutex_);
  const auto it = entries_.find(key);
  if (it == entries_.end()) return std::nullopt;
  if (now - it->second.stored >= ttl_) {
    bytes_ -= it->second.bytes;
    entries_.erase(it);
    return std::nullopt;
  }
  return it->second.result;
}

void ResponseCache::Put(const std::string& key, const domain::MetricResult& result) {
  if (!enabled()) return;
  // A large answer would crowd out many small ones and pin memory for little gain; it is also
  // cheap to measure before taking the lock.
  const std::size_t size = EstimateBytes(result) + sizeof(Entry) + key.capacity();
  if (size > max_entry_bytes()) return;
  const auto now = clock_.Now();
  std::lock_guard lock(mutex_);
  if (const auto it = entries_.find(key); it != entries_.end()) {
    bytes_ -= it->second.bytes;
    entries_.erase(it);
  }
  MakeRoom(now, size);
  entries_.emplace(key, Entry{now, result, size});
  bytes_ += size;
}

void ResponseCache::MakeRoom(base::TimePoint now, std::size_t incoming) {
  for (auto it = entries_.begin(); it != entries_.end();) {
    if (now - it->second.stored >= ttl_) {
      bytes_ -= it->second.bytes;
      it = entries_.erase(it);
    } else {
      ++it;
    }
  }
  if (entries_.size() < max_entries_ && bytes_ + incoming <= max_bytes_) return;
  std::vector<std::pair<base::TimePoint, const std::string*>> by_age;
  by_age.reserve(entries_.size());
  for (const auto& [k, e] : entries_) by_age.emplace_back(e.stored, &k);
  std::ranges::sort(by_age);
  std::vector<std::string> victims;
  std::size_t count = entries_.size(), bytes = bytes_;
  for (const auto& [stored, k] : by_age) {
    if (count < max_entries_ && bytes + incoming <= max_bytes_) break;
    bytes -= entries_.at(*k).bytes;
    --count;
    victims.push_back(*k);
  }
  for (const auto& k : victims) entries_.erase(k);
  bytes_ = bytes;
}

}  // namespace app
