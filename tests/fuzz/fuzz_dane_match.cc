// Fuzzes the DANE matcher: arbitrary TLSA records against an arbitrary "chain" of certificates
// (the bytes of each are what a hostile server could send). It must answer, say why when nothing
// matched, never match with no certificate, and keep usable_tlsa's promises.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "tls/dane.hh"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using ringrelay::tls::TlsaRecord;
  // Layout: a count of records; each record is usage, selector, matching type, a length byte and
  // that much data; then certificates, each a two-byte length and its DER.
  std::size_t at = 0;
  auto byte = [&]() -> int { return at < size ? data[at++] : -1; };
  int count = byte();
  if (count < 0) return 0;
  std::vector<TlsaRecord> records;
  for (int i = 0; i < count % 8; ++i) {
    int usage = byte(), selector = byte(), mtype = byte(), length = byte();
    if (length < 0) return 0;
    std::size_t n = std::min<std::size_t>(static_cast<std::size_t>(length), size - at);
    records.push_back(TlsaRecord{static_cast<std::uint8_t>(usage),
                                 static_cast<std::uint8_t>(selector),
                                 static_cast<std::uint8_t>(mtype),
                                 std::string(reinterpret_cast<const char*>(data + at), n)});
    at += n;
  }
  std::vector<std::string> chain;
  while (at + 2 <= size && chain.size() < 4) {
    std::size_t n = static_cast<std::size_t>(data[at] << 8 | data[at + 1]);
    at += 2;
    n = std::min(n, size - at);
    chain.emplace_back(reinterpret_cast<const char*>(data + at), n);
    at += n;
  }
  std::vector<TlsaRecord> usable = ringrelay::tls::usable_tlsa(records);
  for (const TlsaRecord& r : usable) {
    if (r.usage != 2 && r.usage != 3) std::abort();
    if (r.selector > 1 || r.mtype > 2) std::abort();
  }
  auto m = ringrelay::tls::dane_match(usable, chain, {"mx.example.test"});
  if (m.matched && chain.empty()) std::abort();
  if (!m.matched && m.detail.empty()) std::abort();
  return 0;
}
