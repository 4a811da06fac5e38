// Fuzzes the DNS answer walker with arbitrary messages for each record type (TLSA too): it must
// return an answer or refuse with a reason, never read outside the message, and keep what it
// returns sane.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "dns/answer.hh"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using ringrelay::dns::RecordType;
  if (size == 0) return 0;
  // The first byte picks the asked type; the rest is the message.
  const RecordType types[] = {RecordType::a, RecordType::aaaa, RecordType::mx, RecordType::cname,
                              RecordType::tlsa};
  RecordType type = types[data[0] % 5];
  std::span<const unsigned char> message(data + 1, size - 1);
  std::string error;
  auto answer = ringrelay::dns::parse_answer(message, "example.test", type, &error);
  if (!answer) {
    if (error.empty()) std::abort();  // a refusal always says why
    return 0;
  }
  if (answer->rcode > 15) std::abort();
  for (const auto& record : answer->records) {
    if (record.type != type) std::abort();
    if (record.ttl > 0x7fffffffu) std::abort();
    if ((type == RecordType::a || type == RecordType::aaaa) && record.address.empty()) std::abort();
    if (type == RecordType::tlsa && record.data.empty()) std::abort();
  }
  return 0;
}
