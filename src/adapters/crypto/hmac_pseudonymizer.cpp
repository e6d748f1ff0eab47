#include "adapters/crypto/hmac_pseudonymizer.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <stdexcept>

namespace adapters::crypto {
namespace {

std::string Hex(const unsigned char* data, std::size_t n) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(n * 2, '0');
  for (std::size_t i = 0; i < n; ++i) {
    out[2 * i] = kDigits[data[i] >> 4];
    out[2 * i + 1] = kDigits[data[i] & 0x0F];
  }
  return out;
}

}  // namespace

HmacPseudonymizer::HmacPseudonymizer(std::string key) : key_(std::move(key)) {}

std::string HmacPseudonymizer::PseudonymizeId(std::string_view raw) const {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (HMAC(EVP_sha256(), key_.data(), static_cast<int>(key_.size()),
           reinterpret_cast<const unsigned char*>(raw.data()), raw.size(), mac, &len) == nullptr) {
    throw std::runtime_error("HMAC-SHA-256 failed");  // only on OpenSSL misconfiguration
  }
  return Hex(mac, 16);
}

std::string HmacPseudonymizer::DeriveEventId(std::string_view canonical) const {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(canonical.data(), canonical.size(), digest, &len, EVP_sha256(), nullptr) != 1) {
    throw std::runtime_error("SHA-256 failed");
  }
  return Hex(digest, 16);
}

}  // namespace adapters::crypto
