#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "adapters/jwt/public_key.hpp"
#include "base/result.hpp"

namespace adapters::jwt {

/// One key of a JWK Set (RFC 7517) that tokens can be verified with.
struct JsonWebKey {
  std::string kid;  ///< "kid" ("" when absent)
  std::string alg;  ///< "alg" ("" when absent: any algorithm of the key's kind)
  std::string use;  ///< "use" ("" when absent)
  PublicKey key;

  /// Whether a token whose header says `alg` ("RS256", "ES256") may be verified with this key:
  /// the algorithm is the one of the key's kind, the key's own "alg" (if set) is the same and
  /// its "use" (if set) is "sig".
  bool IsUsableFor(std::string_view token_alg) const;
};

/// The keys of a JWK Set that this adapter verifies with, in file order. Immutable once parsed;
/// share it by pointer to const across threads.
struct JwkSet {
  std::vector<JsonWebKey> keys;
  /// Keys of kinds that are not used here ("oct", "OKP", curves other than P-256), left out.
  std::size_t skipped = 0;

  /// The first key with this "kid" and kind, or nullptr.
  const JsonWebKey* Find(std::string_view kid, KeyKind kind) const;
};

/// Parses a JWK Set, `{"keys":[...]}`: "RSA" keys ("n", "e") and "EC" keys on "P-256" ("x",
/// "y") become checked public keys; other kinds are counted in `skipped`. kInvalidArgument,
/// naming the key's index, for text that is not a JSON object with a "keys" array, duplicate
/// member names, and RSA or P-256 keys that are malformed, weak (RSA under 2048 bits) or not on
/// the curve. Private members ("d", ...) are ignored. Safe on any input bytes.
base::Result<JwkSet> ParseJwkSet(std::string_view json);

}  // namespace adapters::jwt
