#include "adapters/jwt/public_key.hpp"

#include <fmt/format.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include <algorithm>
#include <array>
#include <climits>
#include <cstring>
#include <utility>

#include "adapters/jwt/openssl_ptr.hpp"

namespace adapters::jwt {
namespace {

constexpr int kMinRsaBits = 2048;
// Bounds the cost of one verification with a configured key.
constexpr int kMaxRsaBits = 16384;
// OpenSSL's RSA public key check requires 2^16 < e < 2^256.
constexpr std::size_t kMaxRsaExponentBytes = 32;
constexpr std::size_t kP256CoordinateBytes = 32;
constexpr std::size_t kEs256SignatureBytes = 2 * kP256CoordinateBytes;
// SEQUENCE of two INTEGERs of at most 33 bytes each (a leading zero when the top bit is set).
constexpr std::size_t kMaxEcdsaDerBytes = 2 + 2 * (2 + kP256CoordinateBytes + 1);
constexpr char kP256GroupName[] = "prime256v1";

std::unexpected<base::Error> Invalid(std::string message) {
  // A refused key must not leave OpenSSL errors behind for unrelated code on this thread.
  ERR_clear_error();
  return base::Fail(base::Error::InvalidArgument(std::move(message)));
}

const unsigned char* Bytes(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

bool PassesPublicCheck(EVP_PKEY* key) {
  const PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, key, nullptr));
  return ctx != nullptr && EVP_PKEY_public_check(ctx.get()) == 1;
}

std::shared_ptr<EVP_PKEY> KeyFromParams(const char* type, OSSL_PARAM_BLD* build) {
  const ParamPtr params(OSSL_PARAM_BLD_to_param(build));
  const PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
  EVP_PKEY* raw = nullptr;
  if (params == nullptr || ctx == nullptr || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params.get()) != 1) {
    return nullptr;
  }
  return std::shared_ptr<EVP_PKEY>(raw, EVP_PKEY_free);
}

bool IsAllZero(const unsigned char* p, std::size_t n) {
  return std::all_of(p, p + n, [](unsigned char c) { return c == 0; });
}

// JWS carries ECDSA signatures as fixed-width r||s (RFC 7518 section 3.4); OpenSSL verifies
// the DER form. Returns the DER length, 0 when the raw form cannot be a signature.
std::size_t EcdsaRawToDer(const unsigned char* raw,
                          std::array<unsigned char, kMaxEcdsaDerBytes>& der) {
  if (IsAllZero(raw, kP256CoordinateBytes) ||
      IsAllZero(raw + kP256CoordinateBytes, kP256CoordinateBytes)) {
    return 0;
  }
  EcdsaSigPtr sig(ECDSA_SIG_new());
  BignumPtr r(BN_bin2bn(raw, kP256CoordinateBytes, nullptr));
  BignumPtr s(BN_bin2bn(raw + kP256CoordinateBytes, kP256CoordinateBytes, nullptr));
  if (sig == nullptr || r == nullptr || s == nullptr ||
      ECDSA_SIG_set0(sig.get(), r.get(), s.get()) != 1) {
    return 0;
  }
  // The signature owns r and s now.
  (void)r.release();
  (void)s.release();
  const int length = i2d_ECDSA_SIG(sig.get(), nullptr);
  if (length <= 0 || static_cast<std::size_t>(length) > der.size()) return 0;
  unsigned char* out = der.data();
  if (i2d_ECDSA_SIG(sig.get(), &out) != length) return 0;
  return static_cast<std::size_t>(length);
}

}  // namespace

base::Result<PublicKey> PublicKey::FromPem(std::string_view pem) {
  if (pem.find("PRIVATE KEY-----") != std::string_view::npos) {
    return Invalid("holds a private key; give the public key only (openssl pkey -pubout)");
  }
  std::size_t blocks = 0;
  for (auto at = pem.find("-----BEGIN "); at != std::string_view::npos;
       at = pem.find("-----BEGIN ", at + 1)) {
    ++blocks;
  }
  if (blocks != 1 || pem.find("-----BEGIN PUBLIC KEY-----") == std::string_view::npos) {
    return Invalid("must hold exactly one PEM \"PUBLIC KEY\" block (openssl pkey -pubout)");
  }
  if (pem.size() > static_cast<std::size_t>(INT_MAX)) return Invalid("is too large");
  const BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  EVP_PKEY* raw =
      bio == nullptr ? nullptr : PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr);
  if (raw == nullptr) return Invalid("is not a readable PEM public key");
  return FromEvpKey(std::shared_ptr<EVP_PKEY>(raw, EVP_PKEY_free));
}

base::Result<PublicKey> PublicKey::FromRsaComponents(std::string_view n, std::string_view e) {
  if (n.empty() || n.size() > kMaxRsaBits / 8 + 1) {
    return Invalid(fmt::format("RSA modulus must be {} to {} bits", kMinRsaBits, kMaxRsaBits));
  }
  if (e.empty() || e.size() > kMaxRsaExponentBytes) return Invalid("RSA exponent is out of range");
  const BignumPtr bn_n(BN_bin2bn(Bytes(n), static_cast<int>(n.size()), nullptr));
  const BignumPtr bn_e(BN_bin2bn(Bytes(e), static_cast<int>(e.size()), nullptr));
  const ParamBuildPtr build(OSSL_PARAM_BLD_new());
  if (bn_n == nullptr || bn_e == nullptr || build == nullptr ||
      OSSL_PARAM_BLD_push_BN(build.get(), OSSL_PKEY_PARAM_RSA_N, bn_n.get()) != 1 ||
      OSSL_PARAM_BLD_push_BN(build.get(), OSSL_PKEY_PARAM_RSA_E, bn_e.get()) != 1) {
    return Invalid("cannot build the RSA key");
  }
  auto key = KeyFromParams("RSA", build.get());
  if (key == nullptr) return Invalid("is not a valid RSA public key");
  return FromEvpKey(std::move(key));
}

base::Result<PublicKey> PublicKey::FromEcP256Coordinates(std::string_view x, std::string_view y) {
  if (x.size() != kP256CoordinateBytes || y.size() != kP256CoordinateBytes) {
    return Invalid("P-256 coordinates must be 32 bytes each");
  }
  std::array<unsigned char, 1 + 2 * kP256CoordinateBytes> point{};
  point[0] = 0x04;  // uncompressed: 0x04 || x || y (SEC 1 section 2.3.3)
  std::memcpy(point.data() + 1, x.data(), kP256CoordinateBytes);
  std::memcpy(point.data() + 1 + kP256CoordinateBytes, y.data(), kP256CoordinateBytes);
  const ParamBuildPtr build(OSSL_PARAM_BLD_new());
  if (build == nullptr ||
      OSSL_PARAM_BLD_push_utf8_string(build.get(), OSSL_PKEY_PARAM_GROUP_NAME, kP256GroupName, 0) !=
          1 ||
      OSSL_PARAM_BLD_push_octet_string(build.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(),
                                       point.size()) != 1) {
    return Invalid("cannot build the P-256 key");
  }
  auto key = KeyFromParams("EC", build.get());
  if (key == nullptr) return Invalid("is not a point on P-256");
  return FromEvpKey(std::move(key));
}

base::Result<PublicKey> PublicKey::FromEvpKey(std::shared_ptr<EVP_PKEY> key) {
  // "RSA" excludes RSA-PSS keys, which cannot make PKCS#1 v1.5 signatures.
  if (EVP_PKEY_is_a(key.get(), "RSA") == 1) {
    const int bits = EVP_PKEY_get_bits(key.get());
    if (bits < kMinRsaBits || bits > kMaxRsaBits) {
      return Invalid(fmt::format("is an RSA key of {} bits; {} to {} bits are accepted", bits,
                                 kMinRsaBits, kMaxRsaBits));
    }
    if (!PassesPublicCheck(key.get())) return Invalid("is not a valid RSA public key");
    const auto bytes = static_cast<std::size_t>(EVP_PKEY_get_size(key.get()));
    return PublicKey(KeyKind::kRsa, std::move(key), bytes);
  }
  if (EVP_PKEY_is_a(key.get(), "EC") == 1) {
    std::array<char, 64> group{};
    std::size_t length = 0;
    if (EVP_PKEY_get_utf8_string_param(key.get(), OSSL_PKEY_PARAM_GROUP_NAME, group.data(),
                                       group.size(), &length) != 1 ||
        std::string_view(group.data(), length) != kP256GroupName) {
      return Invalid("is an EC key on a curve other than P-256");
    }
    if (!PassesPublicCheck(key.get())) return Invalid("is not a valid P-256 public key");
    return PublicKey(KeyKind::kEcP256, std::move(key), kEs256SignatureBytes);
  }
  return Invalid("is neither an RSA nor an EC P-256 public key");
}

bool PublicKey::Verify(std::string_view signing_input, std::string_view signature) const {
  if (signature.size() != signature_bytes_) return false;
  const unsigned char* sig = Bytes(signature);
  std::size_t sig_length = signature.size();
  std::array<unsigned char, kMaxEcdsaDerBytes> der{};
  if (kind_ == KeyKind::kEcP256) {
    sig_length = EcdsaRawToDer(sig, der);
    if (sig_length == 0) {
      ERR_clear_error();
      return false;
    }
    sig = der.data();
  }
  const MdCtxPtr ctx(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pkey_ctx = nullptr;
  const bool ok =
      ctx != nullptr &&
      EVP_DigestVerifyInit_ex(ctx.get(), &pkey_ctx, "SHA256", nullptr, nullptr, key_.get(),
                              nullptr) == 1 &&
      (kind_ != KeyKind::kRsa || EVP_PKEY_CTX_set_rsa_padding(pkey_ctx, RSA_PKCS1_PADDING) == 1) &&
      EVP_DigestVerify(ctx.get(), sig, sig_length, Bytes(signing_input), signing_input.size()) == 1;
  if (!ok) ERR_clear_error();
  return ok;
}

}  // namespace adapters::jwt
