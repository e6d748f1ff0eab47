// Cost of one pseudonym, against OpenSSL's one-shot HMAC() as the baseline measured in the
// same run (the adapter absorbs the key pads once).

#include <benchmark/benchmark.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "adapters/crypto/hmac_pseudonymizer.hpp"

namespace {

const std::string kKey = "benchmark-key-0123456789abcdef";
const std::string kUser = "user_000123";

void BM_PseudonymizeId(benchmark::State& state) {
  adapters::crypto::HmacPseudonymizer p(kKey);
  for (auto _ : state) benchmark::DoNotOptimize(p.PseudonymizeId(kUser));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_PseudonymizeId);

void BM_OneShotHmacBaseline(benchmark::State& state) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(HMAC(EVP_sha256(), kKey.data(), static_cast<int>(kKey.size()),
                                  reinterpret_cast<const unsigned char*>(kUser.data()),
                                  kUser.size(), mac, &len));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_OneShotHmacBaseline);

}  // namespace

BENCHMARK_MAIN();
