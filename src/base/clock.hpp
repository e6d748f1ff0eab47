#pragma once

#include <chrono>

namespace base {

/// Milliseconds since the Unix epoch, UTC: the one instant type of the code base.
using TimePoint = std::chrono::sys_time<std::chrono::milliseconds>;

/// Source of "now". The production clock is `SystemClock`; tests pass a fixed one.
/// Implementations are thread-safe.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimePoint Now() const = 0;
};

class SystemClock final : public Clock {
 public:
  TimePoint Now() const override {
    return std::chrono::time_point_cast<std::chrono::milliseconds>(
        std::chrono::system_clock::now());
  }
};

/// A clock that stays where it is set; for tests and deterministic generators.
class FixedClock final : public Clock {
 public:
  explicit FixedClock(TimePoint now) : now_(now) {}
  TimePoint Now() const override { return now_; }
  void Set(TimePoint now) { now_ = now; }

 private:
  TimePoint now_;
};

}  // namespace base
