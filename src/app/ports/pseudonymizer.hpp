#pragma once

#include <string>
#include <string_view>

namespace app {

/// Keyed one-way mapping of identifiers, so stored rows hold no PII yet one user's events still
/// join up (and can be found again for erasure by pseudonymising the same id). Thread-safe.
class Pseudonymizer {
 public:
  virtual ~Pseudonymizer() = default;
  /// HMAC of `raw` under the configured key, hex; equal inputs give equal outputs.
  virtual std::string PseudonymizeId(std::string_view raw) const = 0;
  /// Deterministic event id for an event sent without one, from its canonical form.
  virtual std::string DeriveEventId(std::string_view canonical) const = 0;
};

}  // namespace app
