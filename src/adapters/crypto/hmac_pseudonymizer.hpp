#pragma once

#include <memory>
#include <string>

#include "app/ports/pseudonymizer.hpp"

namespace adapters::crypto {

/// Pseudonymizer on OpenSSL: HMAC-SHA-256 under a secret key for identifiers (first 128 bits,
/// hex), SHA-256 for derived event ids. The keyed inner and outer hash states are computed once,
/// so a pseudonym costs two short SHA-256 runs. Immutable after construction; thread-safe.
class HmacPseudonymizer final : public app::Pseudonymizer {
 public:
  explicit HmacPseudonymizer(const std::string& key);
  ~HmacPseudonymizer() override;
  std::string PseudonymizeId(std::string_view raw) const override;
  std::string DeriveEventId(std::string_view canonical) const override;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace adapters::crypto
