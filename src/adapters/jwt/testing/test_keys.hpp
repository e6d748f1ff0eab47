#pragma once

// Key generation, key export and token signing for the JWT adapter's tests and fuzzer. Keys are
// generated at run time, so no private key is ever committed.

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <array>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "adapters/jwt/base64_url.hpp"
#include "adapters/jwt/openssl_ptr.hpp"

namespace adapters::jwt::testing {

using Key = std::shared_ptr<EVP_PKEY>;

inline void Check(bool ok, const char* what) {
  if (!ok) throw std::runtime_error(std::string("OpenSSL: ") + what);
}

inline Key GenerateRsaKey(unsigned bits = 2048) {
  EVP_PKEY* key = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<std::size_t>(bits));
  Check(key != nullptr, "RSA key generation");
  return Key(key, EVP_PKEY_free);
}

inline Key GenerateEcKey(const char* curve = "P-256") {
  EVP_PKEY* key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", curve);
  Check(key != nullptr, "EC key generation");
  return Key(key, EVP_PKEY_free);
}

inline std::string BioText(BIO* bio) {
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<std::size_t>(size));
}

/// SubjectPublicKeyInfo, PEM ("-----BEGIN PUBLIC KEY-----").
inline std::string PublicKeyPem(const Key& key) {
  const BioPtr bio(BIO_new(BIO_s_mem()));
  Check(bio != nullptr && PEM_write_bio_PUBKEY(bio.get(), key.get()) == 1, "PEM export");
  return BioText(bio.get());
}

/// PKCS#8, PEM ("-----BEGIN PRIVATE KEY-----"), to show it is refused as a public key.
inline std::string PrivateKeyPem(const Key& key) {
  const BioPtr bio(BIO_new(BIO_s_mem()));
  Check(bio != nullptr && PEM_write_bio_PrivateKey(bio.get(), key.get(), nullptr, nullptr, 0,
                                                   nullptr, nullptr) == 1,
        "PEM export");
  return BioText(bio.get());
}

/// SubjectPublicKeyInfo, DER.
inline std::string PublicKeyDer(const Key& key) {
  unsigned char* der = nullptr;
  const int size = i2d_PUBKEY(key.get(), &der);
  Check(size > 0, "DER export");
  std::string out(reinterpret_cast<const char*>(der), static_cast<std::size_t>(size));
  OPENSSL_free(der);
  return out;
}

inline std::string BignumParam(const Key& key, const char* name, int width = 0) {
  BIGNUM* raw = nullptr;
  Check(EVP_PKEY_get_bn_param(key.get(), name, &raw) == 1, "key parameter");
  const BignumPtr bn(raw);
  std::string out(width > 0 ? static_cast<std::size_t>(width)
                            : static_cast<std::size_t>(BN_num_bytes(bn.get())),
                  '\0');
  Check(BN_bn2binpad(bn.get(), reinterpret_cast<unsigned char*>(out.data()),
                     static_cast<int>(out.size())) > 0,
        "big number export");
  return out;
}

/// The public JWK of an RSA or EC P-256 key, with "kid" and, when given, "alg" and "use".
inline std::string PublicJwk(const Key& key, std::string_view kid, std::string_view alg = {},
                             std::string_view use = {}) {
  std::string jwk = "{";
  if (EVP_PKEY_is_a(key.get(), "RSA") == 1) {
    jwk += R"("kty":"RSA","n":")" + EncodeBase64Url(BignumParam(key, OSSL_PKEY_PARAM_RSA_N)) +
           R"(","e":")" + EncodeBase64Url(BignumParam(key, OSSL_PKEY_PARAM_RSA_E)) + '"';
  } else {
    jwk += R"("kty":"EC","crv":"P-256","x":")" +
           EncodeBase64Url(BignumParam(key, OSSL_PKEY_PARAM_EC_PUB_X, 32)) + R"(","y":")" +
           EncodeBase64Url(BignumParam(key, OSSL_PKEY_PARAM_EC_PUB_Y, 32)) + '"';
  }
  jwk += R"(,"kid":")" + std::string(kid) + '"';
  if (!alg.empty()) jwk += R"(,"alg":")" + std::string(alg) + '"';
  if (!use.empty()) jwk += R"(,"use":")" + std::string(use) + '"';
  return jwk + "}";
}

inline std::string JwkSetJson(const std::vector<std::string>& jwks) {
  std::string out = R"({"keys":[)";
  for (std::size_t i = 0; i < jwks.size(); ++i) out += (i == 0 ? "" : ",") + jwks[i];
  return out + "]}";
}

inline std::string HmacSha256(std::string_view secret, std::string_view data) {
  std::array<unsigned char, 32> mac{};
  std::size_t size = 0;
  Check(EVP_Q_mac(nullptr, "HMAC", nullptr, "SHA256", nullptr, secret.empty() ? "" : secret.data(),
                  secret.size(), reinterpret_cast<const unsigned char*>(data.data()), data.size(),
                  mac.data(), mac.size(), &size) != nullptr,
        "HMAC");
  return std::string(reinterpret_cast<const char*>(mac.data()), size);
}

/// A signature with SHA-256 by `key`: PKCS#1 v1.5 for RSA, DER-encoded ECDSA for EC.
inline std::string SignSha256(const Key& key, std::string_view data) {
  const MdCtxPtr ctx(EVP_MD_CTX_new());
  std::size_t size = 0;
  Check(ctx != nullptr &&
            EVP_DigestSignInit_ex(ctx.get(), nullptr, "SHA256", nullptr, nullptr, key.get(),
                                  nullptr) == 1 &&
            EVP_DigestSign(ctx.get(), nullptr, &size,
                           reinterpret_cast<const unsigned char*>(data.data()), data.size()) == 1,
        "sign");
  std::string out(size, '\0');
  Check(EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(out.data()), &size,
                       reinterpret_cast<const unsigned char*>(data.data()), data.size()) == 1,
        "sign");
  out.resize(size);
  return out;
}

/// A DER ECDSA signature as JWS wants it: r||s, 32 bytes each.
inline std::string EcdsaDerToRaw(std::string_view der) {
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  const EcdsaSigPtr sig(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size())));
  Check(sig != nullptr, "ECDSA signature decoding");
  std::string out(64, '\0');
  auto* bytes = reinterpret_cast<unsigned char*>(out.data());
  Check(BN_bn2binpad(ECDSA_SIG_get0_r(sig.get()), bytes, 32) == 32 &&
            BN_bn2binpad(ECDSA_SIG_get0_s(sig.get()), bytes + 32, 32) == 32,
        "ECDSA signature encoding");
  return out;
}

/// header.payload, each base64url-encoded exactly as given.
inline std::string SigningInput(std::string_view header_json, std::string_view payload_json) {
  return EncodeBase64Url(header_json) + "." + EncodeBase64Url(payload_json);
}

inline std::string Join(std::string_view signing_input, std::string_view signature) {
  return std::string(signing_input) + "." + EncodeBase64Url(signature);
}

inline std::string SignedHs256(std::string_view secret, std::string_view header_json,
                               std::string_view payload_json) {
  const std::string input = SigningInput(header_json, payload_json);
  return Join(input, HmacSha256(secret, input));
}

inline std::string SignedRs256(const Key& key, std::string_view header_json,
                               std::string_view payload_json) {
  const std::string input = SigningInput(header_json, payload_json);
  return Join(input, SignSha256(key, input));
}

inline std::string SignedEs256(const Key& key, std::string_view header_json,
                               std::string_view payload_json) {
  const std::string input = SigningInput(header_json, payload_json);
  return Join(input, EcdsaDerToRaw(SignSha256(key, input)));
}

}  // namespace adapters::jwt::testing
