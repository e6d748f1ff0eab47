#include "adapters/crypto/hmac_pseudonymizer.hpp"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <string>
#include <thread>
#include <vector>

namespace adapters::crypto {
namespace {

bool IsLowerHex(std::string_view s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

// RFC 4231 test case 2: HMAC-SHA-256(key "Jefe", "what do ya want for nothing?") =
// 5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843; the pseudonym is its first
// 16 bytes.
TEST(HmacPseudonymizer, MatchesRfc4231TestCase2) {
  const HmacPseudonymizer p("Jefe");
  EXPECT_EQ(p.PseudonymizeId("what do ya want for nothing?"), "5bdcc146bf60754e6a042426089575c7");
}

// RFC 4231 test case 1: key 0x0b * 20, data "Hi There" ->
// b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7.
TEST(HmacPseudonymizer, MatchesRfc4231TestCase1) {
  const HmacPseudonymizer p(std::string(20, '\x0b'));
  EXPECT_EQ(p.PseudonymizeId("Hi There"), "b0344c61d8db38535ca8afceaf0bf12b");
}

// RFC 4231 test case 3: key 0xaa * 20, data 0xdd * 50 ->
// 773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe.
TEST(HmacPseudonymizer, MatchesRfc4231TestCase3) {
  const HmacPseudonymizer p(std::string(20, '\xaa'));
  EXPECT_EQ(p.PseudonymizeId(std::string(50, '\xdd')), "773ea91e36800e46854db8ebd09181a7");
}

// RFC 4231 test case 6: a 131-byte key (longer than the SHA-256 block, so hashed first) ->
// 60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54.
TEST(HmacPseudonymizer, MatchesRfc4231TestCase6) {
  const HmacPseudonymizer p(std::string(131, '\xaa'));
  EXPECT_EQ(p.PseudonymizeId("Test Using Larger Than Block-Size Key - Hash Key First"),
            "60e431591ee0b67f0d8a26aacbf5b77f");
}

std::string ReferenceHmacPrefix(const std::string& key, std::string_view data) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac, &len);
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string hex;
  for (unsigned i = 0; i < 16 && i < len; ++i) {
    hex.push_back(kDigits[mac[i] >> 4]);
    hex.push_back(kDigits[mac[i] & 0x0F]);
  }
  return hex;
}

// Key lengths around the 64-byte block size are where a hand-rolled HMAC goes wrong.
TEST(HmacPseudonymizer, AgreesWithOpenSslHmacForEveryKeyLength) {
  const std::string long_data(200, 'x');
  for (std::size_t n = 0; n <= 130; ++n) {
    std::string key;
    for (std::size_t i = 0; i < n; ++i) key.push_back(static_cast<char>(i * 7 + 1));
    const HmacPseudonymizer p(key);
    for (const std::string_view data : {std::string_view(""), std::string_view("user-1"),
                                        std::string_view(long_data)}) {
      EXPECT_EQ(p.PseudonymizeId(data), ReferenceHmacPrefix(key, data))
          << "key length " << n << ", data length " << data.size();
    }
  }
}

TEST(HmacPseudonymizer, InstancesWithDifferentKeysDoNotInterfere) {
  const HmacPseudonymizer jefe("Jefe");
  const HmacPseudonymizer other("another-key-0123456789");
  const auto from_other = other.PseudonymizeId("what do ya want for nothing?");
  EXPECT_EQ(jefe.PseudonymizeId("what do ya want for nothing?"), "5bdcc146bf60754e6a042426089575c7");
  EXPECT_EQ(other.PseudonymizeId("what do ya want for nothing?"), from_other);
  EXPECT_EQ(jefe.PseudonymizeId("what do ya want for nothing?"), "5bdcc146bf60754e6a042426089575c7");
}

TEST(HmacPseudonymizer, ConcurrentCallsGiveTheSameAnswers) {
  const HmacPseudonymizer p("Jefe");
  constexpr int kThreads = 4;
  std::vector<int> mismatches(kThreads, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 500; ++i) {
        if (p.PseudonymizeId("what do ya want for nothing?") != "5bdcc146bf60754e6a042426089575c7") {
          ++mismatches[t];
        }
        if (p.DeriveEventId("abc") != "ba7816bf8f01cfea414140de5dae2223") ++mismatches[t];
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(mismatches[t], 0) << "thread " << t;
}

TEST(HmacPseudonymizer, PseudonymIsThirtyTwoLowercaseHexDigits) {
  const HmacPseudonymizer p("a-test-key-of-enough-bytes");
  for (const char* raw : {"user-1", "", "Zoë", "a much longer identifier than usual, with spaces"}) {
    const auto id = p.PseudonymizeId(raw);
    EXPECT_EQ(id.size(), 32u) << raw;
    EXPECT_TRUE(IsLowerHex(id)) << id;
  }
}

TEST(HmacPseudonymizer, EqualInputsGiveEqualPseudonyms) {
  const HmacPseudonymizer a("a-test-key-of-enough-bytes");
  const HmacPseudonymizer b("a-test-key-of-enough-bytes");
  EXPECT_EQ(a.PseudonymizeId("user-1"), a.PseudonymizeId("user-1"));
  EXPECT_EQ(a.PseudonymizeId("user-1"), b.PseudonymizeId(std::string("user-1")));
}

TEST(HmacPseudonymizer, DifferentInputsGiveDifferentPseudonyms) {
  const HmacPseudonymizer p("a-test-key-of-enough-bytes");
  EXPECT_NE(p.PseudonymizeId("user-1"), p.PseudonymizeId("user-2"));
  EXPECT_NE(p.PseudonymizeId("user-1"), p.PseudonymizeId("User-1"));
  EXPECT_NE(p.PseudonymizeId(""), p.PseudonymizeId(std::string_view("\0", 1)));
}

TEST(HmacPseudonymizer, DifferentKeysGiveDifferentPseudonyms) {
  const HmacPseudonymizer a("first-key-0123456789");
  const HmacPseudonymizer b("second-key-0123456789");
  EXPECT_NE(a.PseudonymizeId("user-1"), b.PseudonymizeId("user-1"));
}

TEST(HmacPseudonymizer, EveryByteOfTheKeyCounts) {
  const HmacPseudonymizer a(std::string("key\0part-one-0123", 17));
  const HmacPseudonymizer b(std::string("key\0part-two-0123", 17));
  EXPECT_NE(a.PseudonymizeId("user-1"), b.PseudonymizeId("user-1"));
}

TEST(HmacPseudonymizer, EmptyViewIsAccepted) {
  const HmacPseudonymizer p("Jefe");
  const auto id = p.PseudonymizeId(std::string_view{});
  EXPECT_EQ(id.size(), 32u);
  EXPECT_EQ(id, p.PseudonymizeId(""));
}

TEST(HmacPseudonymizer, PseudonymIsNotThePlainHash) {
  const HmacPseudonymizer p("a-test-key-of-enough-bytes");
  EXPECT_NE(p.PseudonymizeId("abc"), p.DeriveEventId("abc"));
}

// FIPS 180-2 / NIST: SHA-256("abc") =
// ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad.
TEST(HmacPseudonymizer, DeriveEventIdIsTheFirstHalfOfSha256) {
  const HmacPseudonymizer p("Jefe");
  EXPECT_EQ(p.DeriveEventId("abc"), "ba7816bf8f01cfea414140de5dae2223");
  // SHA-256("") = e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
  EXPECT_EQ(p.DeriveEventId(""), "e3b0c44298fc1c149afbf4c8996fb924");
  // SHA-256("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq") =
  // 248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1
  EXPECT_EQ(p.DeriveEventId("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039");
}

TEST(HmacPseudonymizer, DeriveEventIdDoesNotDependOnTheKey) {
  const HmacPseudonymizer a("first-key-0123456789");
  const HmacPseudonymizer b("second-key-0123456789");
  EXPECT_EQ(a.DeriveEventId("canonical form"), b.DeriveEventId("canonical form"));
  EXPECT_NE(a.DeriveEventId("canonical form"), a.DeriveEventId("canonical form."));
}

TEST(HmacPseudonymizer, DeriveEventIdCoversEmbeddedNulBytes) {
  const HmacPseudonymizer p("Jefe");
  EXPECT_NE(p.DeriveEventId(std::string_view("a\0b", 3)), p.DeriveEventId(std::string_view("a\0c", 3)));
}

TEST(HmacPseudonymizer, UsableThroughThePort) {
  const HmacPseudonymizer concrete("Jefe");
  const app::Pseudonymizer& port = concrete;
  EXPECT_EQ(port.PseudonymizeId("what do ya want for nothing?"), "5bdcc146bf60754e6a042426089575c7");
  EXPECT_EQ(port.DeriveEventId("abc"), "ba7816bf8f01cfea414140de5dae2223");
}

}  // namespace
}  // namespace adapters::crypto
