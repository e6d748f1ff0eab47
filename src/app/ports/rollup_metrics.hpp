#pragma once

#include <cstddef>

namespace app {

/// The state of the query rollup, as /metrics shows it.
struct RollupState {
  std::size_t built_slots = 0;
  std::size_t pending_slots = 0;  ///< still to build: history, changed slots, reads in flight
  std::size_t users = 0, conversations = 0;
  std::size_t bytes = 0;
  bool backfilled = false;  ///< the history stored at start-up is built
};

/// What the rollup builder reports for /metrics. Thread-safe.
class RollupMetrics {
 public:
  virtual ~RollupMetrics() = default;
  virtual void RollupProgress(const RollupState& state) = 0;
};

}  // namespace app
