#pragma once

#include <string>

#include "app/ports/pseudonymizer.hpp"

namespace adapters::crypto {

/// Pseudonymizer on OpenSSL: HMAC-SHA-256 under a secret key for identifiers (first 128 bits,
/// hex), SHA-256 for derived event ids. Stateless after construction; thread-safe.
class HmacPseudonymizer final : public app::Pseudonymizer {
 public:
  explicit HmacPseudonymizer(std::string key);
  std::string PseudonymizeId(std::string_view raw) const override;
  std::string DeriveEventId(std::string_view canonical) const override;

 private:
  std::string key_;
};

}  // namespace adapters::crypto
