#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "app/ports/credential_verifiers.hpp"

namespace adapters::crypto {

/// API keys checked against their SHA-256 digests, as kept in config (the keys themselves are
/// never stored). Several keys may be active at once, so a key can be rotated without downtime.
/// Every configured digest is compared (CRYPTO_memcmp) on each check, so timing tells nothing
/// about which or how many bytes matched. Immutable; thread-safe.
class HashedApiKeys final : public app::ApiKeyVerifier {
 public:
  /// `keys`: (id, SHA-256 of the key as 64 hex digits). Digests must be valid hex (config
  /// validates them); an invalid one never matches.
  explicit HashedApiKeys(const std::vector<std::pair<std::string, std::string>>& keys);
  std::optional<std::string> Verify(std::string_view key) const override;

 private:
  struct Entry {
    std::string id;
    std::string digest;  // 32 raw bytes
  };
  std::vector<Entry> entries_;
};

/// SHA-256 of `data` as 64 lowercase hex digits.
std::string Sha256Hex(std::string_view data);

/// A new random API key: "ak_" and 43 base64url characters (256 bits from the OpenSSL CSPRNG).
std::string NewApiKey();

}  // namespace adapters::crypto
