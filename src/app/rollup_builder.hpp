#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "app/ports/rollup_metrics.hpp"
#include "app/ports/slot_facts.hpp"
#include "app/rollup.hpp"
#include "base/clock.hpp"
#include "base/result.hpp"

namespace app {

/// Keeps the Rollup built: at start it reads where stored data begins, then builds every closed
/// slot newest first, each slot again after a late event lands in it, and each new slot once it
/// closes. Reads go through the SlotFactSource, a day of slots per read; a failed read is
/// retried after `retry_after` with a quarter of the slots (growing back after successes).
/// Logs progress every few seconds and once when the history is built. One background thread
/// between `Start` and `Stop`.
class RollupBuilder {
 public:
  struct Options {
    std::size_t slots_per_read = 96;
    /// A slot is built once it has been closed this long (fewer rebuilds for stragglers).
    std::chrono::milliseconds grace{std::chrono::seconds(30)};
    std::chrono::milliseconds idle{std::chrono::seconds(1)};
    std::chrono::milliseconds retry_after{std::chrono::seconds(5)};
  };
  /// `metrics` (may be null) is told the rollup's state after every step.
  RollupBuilder(Rollup& rollup, SlotFactSource& source, const base::Clock& clock, Options options,
                RollupMetrics* metrics = nullptr)
      : rollup_(rollup), source_(source), clock_(clock), options_(options), metrics_(metrics) {}
  ~RollupBuilder() { Stop(); }
  RollupBuilder(const RollupBuilder&) = delete;
  RollupBuilder& operator=(const RollupBuilder&) = delete;

  void Start();
  void Stop();
  /// Builds on the caller's thread until no closed slot is left to build (benchmarks, tests).
  base::Status BuildAll();

 private:
  /// One read and install; false when there was nothing to do. Errors are the read's.
  base::Result<bool> Step();
  void Loop();

  Rollup& rollup_;
  SlotFactSource& source_;
  const base::Clock& clock_;
  const Options options_;
  RollupMetrics* metrics_;
  std::size_t batch_ = options_.slots_per_read;  ///< slots per read; shrinks after a failed read
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;
  std::thread thread_;
  std::chrono::steady_clock::time_point started_{}, last_progress_{};
  bool reported_ready_ = false;
};

}  // namespace app
