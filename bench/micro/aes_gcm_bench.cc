// AES-128-GCM throughput of the wolfSSL actually linked, 16 KiB per call (one TLS record). Built
// twice: against the library ringrelay links (the assembly build of deploy/) and against Debian's
// libwolfssl as the reference, so the ratio between the two runs is the speed-up.
// clang-format off
#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/aes.h>
#include <wolfssl/version.h>
// clang-format on
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

namespace {

void BM_AesGcmEncrypt16k(benchmark::State& state) {
  Aes aes;
  const byte key[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
  byte iv[12] = {};
  byte tag[16];
  std::vector<byte> in(16384, 'x'), out(16384);
  wc_AesInit(&aes, nullptr, INVALID_DEVID);
  wc_AesGcmSetKey(&aes, key, sizeof key);
  for (auto _ : state) {
    ++iv[11];
    wc_AesGcmEncrypt(&aes, out.data(), in.data(), static_cast<word32>(in.size()), iv, sizeof iv,
                     tag, sizeof tag, nullptr, 0);
    benchmark::DoNotOptimize(out.data());
  }
  wc_AesFree(&aes);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * 16384);
#if defined(WOLFSSL_AESNI)
  state.SetLabel(std::string("wolfSSL ") + LIBWOLFSSL_VERSION_STRING + ", AES-NI");
#else
  state.SetLabel(std::string("wolfSSL ") + LIBWOLFSSL_VERSION_STRING + ", no AES-NI");
#endif
}
BENCHMARK(BM_AesGcmEncrypt16k);

}  // namespace
