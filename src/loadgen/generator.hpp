#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <string>

#include "base/clock.hpp"
#include "domain/event.hpp"

namespace loadgen {

/// What to simulate. A plain value. Equal Scenarios (seed included) give byte-identical output
/// with any standard library: the generator has its own PRNG and exp instead of `std::`
/// distributions and libm (only a build that fuses multiply-adds, as -ffp-contract=fast does on
/// FMA targets, could round a rare value differently).
struct Scenario {
  std::uint64_t seed = 42;
  int users = 1000;       // users who sign up during the period
  base::TimePoint start;  // period [start, end); empty or reversed: no events
  base::TimePoint end;
  std::uint64_t max_events = 0;  // stop after this many events (0 = no limit)
  double duplicate_rate = 0.0;   // fraction of valid events also emitted again as an exact copy
                                 // (same id, same bytes), right after the original
  double invalid_rate = 0.0;     // extra malformed events per valid event (unknown type,
                                 // missing userId, bad timestamp, not JSON, wrong field type)
  bool with_ids = true;          // false: omit the top-level "id" (the service derives one)

  /// Target average of valid events per user per 30 days since that user's signup. Approximate:
  /// calibrated on a 90-day period (shorter periods give more, longer ones fewer, since users
  /// are keenest in their first weeks) and about 20% short of targets in the thousands.
  double events_per_user_month = 150.0;
  /// Fraction of timestamps written as epoch milliseconds (a JSON integer) instead of ISO 8601.
  double epoch_millis_rate = 0.1;
  /// Number in the id of the first user ("user_000001"); runs against one service with
  /// disjoint ranges do not collide.
  std::uint64_t first_user_number = 1;
};

/// One line of output. `json` is a single JSON text (or, for some invalid events, deliberately
/// not one) without a trailing newline.
struct GeneratedEvent {
  domain::EventType type;  // for invalid ones, the type it pretended to be
  std::string json;        // one line, no trailing newline
  bool valid = true;
  bool duplicate = false;       // true for the re-emitted copy
  base::TimePoint timestamp{};  // the event's time (for a bad-timestamp one, the time it hid)
};

/// Deterministic simulation of the platform's auth, chat and billing services.
///
/// Users sign up spread over the period (more towards its end), then sign in on active days,
/// chat in sessions, and move between the free, pro and team plans with Stripe-like monthly
/// billing, failed payments, retries, churn and reactivation. Guarantees for valid events:
/// every timestamp lies in [start, end); within a user timestamps strictly increase, so events
/// never collide when the service derives ids from content; a subscription is created before it
/// is paid or cancelled; a conversation is created before its messages and gets none after its
/// deletion. Noise (duplicates, invalid events, timestamp format) is decided per event by
/// hashing, so the valid, non-duplicate stream does not depend on the noise rates.
/// Holds no resources besides the Scenario; `Generate` may be called repeatedly and keeps all
/// its state local, so distinct Generators may run on distinct threads.
class Generator {
 public:
  explicit Generator(Scenario scenario);

  /// Emits every event, user by user (each user's events in time order; a duplicate follows its
  /// original, an invalid event follows the valid one it was derived from). Returns the number
  /// emitted, at most `max_events` when that is set. With a limit, the output is a prefix of the
  /// unlimited output. The sink may keep (move from) the event it is handed.
  std::uint64_t Generate(const std::function<void(GeneratedEvent&&)>& sink);

  const Scenario& scenario() const { return scenario_; }

 private:
  Scenario scenario_;
};

/// Counts of what was generated, for tests and for printing a summary. `valid` includes the
/// duplicate copies; `by_type` counts distinct valid events only (no copies, no invalid ones),
/// so its sum is what the service should end up storing: `valid - duplicates`.
struct Summary {
  std::uint64_t total = 0, valid = 0, invalid = 0, duplicates = 0;
  std::array<std::uint64_t, domain::kEventTypeCount> by_type{};
  std::uint64_t bytes = 0;  // sum of json sizes, without separators
};

/// Runs `Generator(scenario).Generate` and counts.
Summary Summarize(const Scenario& scenario);

}  // namespace loadgen
