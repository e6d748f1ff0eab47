#pragma once

#include <openssl/types.h>

#include <cstddef>
#include <memory>
#include <string_view>
#include <utility>

#include "base/result.hpp"

namespace adapters::jwt {

/// The kinds of public key a token can be verified with; each has exactly one JWS algorithm.
enum class KeyKind {
  kRsa,     ///< RS256: RSASSA-PKCS1-v1_5 with SHA-256
  kEcP256,  ///< ES256: ECDSA on P-256 with SHA-256, signature as raw r||s
};

/// A checked public key: RSA of 2048 to 16384 bits that passes OpenSSL's public key check, or a
/// point on P-256. A PublicKey that exists is usable, so checks happen once, at construction.
/// Copies share one immutable OpenSSL key; `Verify` may run from several threads at once.
/// Errors are kInvalidArgument with a message only: the caller names the setting it came from.
class PublicKey {
 public:
  /// The one key of a PEM "PUBLIC KEY" (SubjectPublicKeyInfo) block. Private keys, several
  /// blocks, other key types, RSA under 2048 bits and curves other than P-256 are refused.
  static base::Result<PublicKey> FromPem(std::string_view pem);
  /// RSA from the big-endian modulus and public exponent (a JWK's "n" and "e", decoded).
  static base::Result<PublicKey> FromRsaComponents(std::string_view n, std::string_view e);
  /// P-256 from the big-endian affine coordinates, 32 bytes each (a JWK's "x" and "y", decoded).
  static base::Result<PublicKey> FromEcP256Coordinates(std::string_view x, std::string_view y);

  KeyKind Kind() const { return kind_; }

  /// Whether `signature` signs `signing_input` under this key in the JWS form of its kind: for
  /// RSA exactly modulus-length bytes, for P-256 exactly 64 bytes r||s with neither zero. False
  /// for anything else; never fails otherwise.
  bool Verify(std::string_view signing_input, std::string_view signature) const;

 private:
  PublicKey(KeyKind kind, std::shared_ptr<EVP_PKEY> key, std::size_t signature_bytes)
      : kind_(kind), key_(std::move(key)), signature_bytes_(signature_bytes) {}
  static base::Result<PublicKey> FromEvpKey(std::shared_ptr<EVP_PKEY> key);

  KeyKind kind_;
  std::shared_ptr<EVP_PKEY> key_;
  std::size_t signature_bytes_;
};

}  // namespace adapters::jwt
