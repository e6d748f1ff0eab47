#include "adapters/crypto/hmac_pseudonymizer.hpp"

#include <openssl/evp.h>

#include <array>
#include <stdexcept>

namespace adapters::crypto {
namespace {

constexpr std::size_t kBlockSize = 64;  // SHA-256
constexpr std::size_t kIdBytes = 16;

std::string Hex(const unsigned char* data, std::size_t n) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(n * 2, '0');
  for (std::size_t i = 0; i < n; ++i) {
    out[2 * i] = kDigits[data[i] >> 4];
    out[2 * i + 1] = kDigits[data[i] & 0x0F];
  }
  return out;
}

void Check(int ok) {
  if (ok != 1) throw std::runtime_error("OpenSSL SHA-256 failed");  // misconfigured OpenSSL only
}

struct MdCtx {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  ~MdCtx() { EVP_MD_CTX_free(ctx); }
};

}  // namespace

struct HmacPseudonymizer::State {
  EVP_MD* sha256 = nullptr;
  MdCtx inner;  // absorbed key ^ ipad
  MdCtx outer;  // absorbed key ^ opad
  ~State() { EVP_MD_free(sha256); }
};

HmacPseudonymizer::HmacPseudonymizer(const std::string& key) : state_(std::make_unique<State>()) {
  // RFC 2104 with the pads absorbed once: HMAC(k, m) = H((k ^ opad) || H((k ^ ipad) || m)).
  state_->sha256 = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  if (state_->sha256 == nullptr) throw std::runtime_error("OpenSSL has no SHA-256");
  std::array<unsigned char, kBlockSize> block{};
  if (key.size() > kBlockSize) {
    unsigned int len = 0;
    Check(EVP_Digest(key.data(), key.size(), block.data(), &len, state_->sha256, nullptr));
  } else {
    std::copy(key.begin(), key.end(), block.begin());
  }
  std::array<unsigned char, kBlockSize> ipad{};
  std::array<unsigned char, kBlockSize> opad{};
  for (std::size_t i = 0; i < kBlockSize; ++i) {
    ipad[i] = block[i] ^ 0x36;
    opad[i] = block[i] ^ 0x5c;
  }
  Check(EVP_DigestInit_ex(state_->inner.ctx, state_->sha256, nullptr));
  Check(EVP_DigestUpdate(state_->inner.ctx, ipad.data(), ipad.size()));
  Check(EVP_DigestInit_ex(state_->outer.ctx, state_->sha256, nullptr));
  Check(EVP_DigestUpdate(state_->outer.ctx, opad.data(), opad.size()));
}

HmacPseudonymizer::~HmacPseudonymizer() = default;

std::string HmacPseudonymizer::PseudonymizeId(std::string_view raw) const {
  thread_local MdCtx work;
  unsigned char inner_digest[EVP_MAX_MD_SIZE];
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  Check(EVP_MD_CTX_copy_ex(work.ctx, state_->inner.ctx));
  Check(EVP_DigestUpdate(work.ctx, raw.data(), raw.size()));
  Check(EVP_DigestFinal_ex(work.ctx, inner_digest, &len));
  Check(EVP_MD_CTX_copy_ex(work.ctx, state_->outer.ctx));
  Check(EVP_DigestUpdate(work.ctx, inner_digest, len));
  Check(EVP_DigestFinal_ex(work.ctx, mac, &len));
  return Hex(mac, kIdBytes);
}

std::string HmacPseudonymizer::DeriveEventId(std::string_view canonical) const {
  thread_local MdCtx work;
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  Check(EVP_DigestInit_ex(work.ctx, state_->sha256, nullptr));
  Check(EVP_DigestUpdate(work.ctx, canonical.data(), canonical.size()));
  Check(EVP_DigestFinal_ex(work.ctx, digest, &len));
  return Hex(digest, kIdBytes);
}

}  // namespace adapters::crypto
