#include "app/rollup_builder.hpp"

#include "base/log.hpp"

namespace app {

base::Result<bool> RollupBuilder::Step() {
  const auto frontier = SlotOf((clock_.Now() - options_.grace).time_since_epoch().count());
  if (!rollup_.IsInitialized()) {
    auto stored = source_.StoredSpan();
    if (!stored) return base::Fail(stored.error());
    rollup_.Initialize(*stored, frontier);
    started_ = last_progress_ = std::chrono::steady_clock::now();
  }
  const auto work = rollup_.NextWork(frontier, batch_);
  if (work.slots.empty()) {
    if (!reported_ready_) {
      reported_ready_ = true;
      const auto s = rollup_.GetStats();
      const std::chrono::duration<double> took = std::chrono::steady_clock::now() - started_;
      base::log::Info("rollup.built", {{"slots", s.built_slots},
                                       {"users", s.users},
                                       {"conversations", s.conversations},
                                       {"mb", static_cast<double>(s.bytes) / 1e6},
                                       {"seconds", took.count()}});
    }
    return false;
  }
  const auto ranges = work.Ranges();
  auto facts = source_.ReadFacts(ranges, kAllFacts);
  if (!facts) {
    // Smaller reads next time, in case this one ran out of time or memory.
    rollup_.Requeue(work);
    batch_ = std::max<std::size_t>(1, batch_ / 4);
    return base::Fail(facts.error());
  }
  batch_ = std::min(options_.slots_per_read, batch_ * 2);
  rollup_.Install(work, *facts);
  const auto now = std::chrono::steady_clock::now();
  if (!reported_ready_ && now - last_progress_ > std::chrono::seconds(5)) {
    last_progress_ = now;
    const auto s = rollup_.GetStats();
    base::log::Info("rollup.progress", {{"built_slots", s.built_slots},
                                        {"pending_slots", s.pending_slots},
                                        {"mb", static_cast<double>(s.bytes) / 1e6}});
  }
  return true;
}

base::Status RollupBuilder::BuildAll() {
  for (;;) {
    auto did = Step();
    if (!did) return base::Fail(did.error());
    if (!*did) return {};
  }
}

void RollupBuilder::Loop() {
  std::unique_lock lock(mutex_);
  while (!stop_) {
    lock.unlock();
    auto did = Step();
    if (metrics_ != nullptr) metrics_->RollupProgress(rollup_.GetStats());
    lock.lock();
    if (stop_) break;
    if (!did) {
      base::log::Warn("rollup.read_failed", {{"error", did.error().message}});
      wake_.wait_for(lock, options_.retry_after, [&] { return stop_; });
    } else if (!*did) {
      wake_.wait_for(lock, options_.idle, [&] { return stop_; });
    }
  }
}

void RollupBuilder::Start() {
  std::lock_guard lock(mutex_);
  if (thread_.joinable()) return;
  stop_ = false;
  thread_ = std::thread([this] { Loop(); });
}

void RollupBuilder::Stop() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

}  // namespace app
