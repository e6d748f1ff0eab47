#include "domain/dedup_window.hpp"

#include <xxhash.h>

namespace domain {

IdKey KeyOf(std::string_view event_id) {
  const XXH128_hash_t h = XXH3_128bits(event_id.data(), event_id.size());
  return IdKey{h.high64, h.low64};
}

DedupWindow::DedupWindow(std::chrono::milliseconds horizon, std::size_t max_ids)
    : horizon_(horizon), max_ids_(max_ids) {}

bool DedupWindow::Contains(IdKey key) const { return keys_.contains(key); }

void DedupWindow::Insert(IdKey key, base::TimePoint stored_at) {
  // A zero horizon is the window switched off: it must not hold even the latest batch.
  if (horizon_.count() <= 0 || max_ids_ == 0) return;
  if (keys_.insert(key).second) order_.emplace_back(stored_at, key);
  while (keys_.size() > max_ids_ && !order_.empty()) {
    keys_.erase(order_.front().second);
    order_.pop_front();
  }
}

void DedupWindow::Expire(base::TimePoint now) {
  const auto cutoff = now - horizon_;
  while (!order_.empty() && order_.front().first < cutoff) {
    keys_.erase(order_.front().second);
    order_.pop_front();
  }
}

}  // namespace domain
