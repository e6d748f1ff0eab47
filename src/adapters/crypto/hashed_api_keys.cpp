#include "adapters/crypto/hashed_api_keys.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <array>
#include <stdexcept>

namespace adapters::crypto {
namespace {

constexpr std::size_t kDigestBytes = 32;

std::array<unsigned char, kDigestBytes> Sha256(std::string_view data) {
  std::array<unsigned char, kDigestBytes> out{};
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), out.data(), &len, EVP_sha256(), nullptr) != 1) {
    throw std::runtime_error("OpenSSL SHA-256 failed");  // a broken OpenSSL only
  }
  return out;
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

HashedApiKeys::HashedApiKeys(const std::vector<std::pair<std::string, std::string>>& keys) {
  for (const auto& [id, hex] : keys) {
    if (hex.size() != kDigestBytes * 2) continue;
    std::string digest(kDigestBytes, '\0');
    bool valid = true;
    for (std::size_t i = 0; i < kDigestBytes; ++i) {
      const int hi = HexDigit(hex[2 * i]);
      const int lo = HexDigit(hex[2 * i + 1]);
      valid = valid && hi >= 0 && lo >= 0;
      digest[i] = static_cast<char>((hi << 4) | (lo & 0x0F));
    }
    if (valid) entries_.push_back({id, std::move(digest)});
  }
}

std::optional<std::string> HashedApiKeys::Verify(std::string_view key) const {
  if (key.empty()) return std::nullopt;
  const auto digest = Sha256(key);
  const Entry* match = nullptr;
  for (const auto& e : entries_) {
    if (CRYPTO_memcmp(e.digest.data(), digest.data(), kDigestBytes) == 0) match = &e;
  }
  if (match == nullptr) return std::nullopt;
  return match->id;
}

std::string Sha256Hex(std::string_view data) {
  static constexpr char kDigits[] = "0123456789abcdef";
  const auto digest = Sha256(data);
  std::string out;
  out.reserve(kDigestBytes * 2);
  for (const auto b : digest) {
    out.push_back(kDigits[b >> 4]);
    out.push_back(kDigits[b & 0x0F]);
  }
  return out;
}

std::string NewApiKey() {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::array<unsigned char, 32> bytes{};
  if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1) {
    throw std::runtime_error("OpenSSL RAND_bytes failed");
  }
  // base64url without padding: 256 bits -> 43 characters.
  std::string out = "ak_";
  std::uint32_t acc = 0;
  int bits = 0;
  for (const auto b : bytes) {
    acc = (acc << 8) | b;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out.push_back(kAlphabet[(acc >> bits) & 0x3F]);
    }
  }
  if (bits > 0) out.push_back(kAlphabet[(acc << (6 - bits)) & 0x3F]);
  return out;
}

}  // namespace adapters::crypto
