// Reading a DNS answer message (the raw bytes c-ares hands back): its response code, and the
// records of the asked type reached from the asked name through its CNAME chain, with their TTLs.
// Names are decompressed by c-ares (ares_expand_name); the walk over records and fields is ours.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace ringrelay::dns {

enum class RecordType : std::uint16_t { a = 1, cname = 5, mx = 15, aaaa = 28, tlsa = 52 };

// "A", "MX", ... as Postfix prints a query type in its messages.
std::string_view record_type_name(RecordType type);

struct Record {
  RecordType type = RecordType::a;
  std::uint32_t ttl = 0;
  std::uint16_t preference = 0;  // MX
  std::string host;              // MX exchange, lower case, no final dot; "" for the null MX "."
  std::string address;           // A or AAAA, printable
  // TLSA (RFC 6698): certificate usage, selector, matching type and the association data.
  std::uint8_t usage = 0, selector = 0, mtype = 0;
  std::string data;
};

struct Answer {
  unsigned rcode = 0;           // 0 NOERROR, 2 SERVFAIL, 3 NXDOMAIN, ...
  bool authenticated = false;   // the AD bit: a validating resolver found it DNSSEC-secure
  std::vector<Record> records;  // of the asked type, owned by the end of the CNAME chain
  // Where the CNAME chain in this answer ended; differs from the asked name when the server
  // gave the alias but not the target's records (the caller asks again for this name).
  std::string canonical_name;
  std::uint32_t cname_ttl = UINT32_MAX;  // the smallest TTL along the chain followed
};

// The name as DNS compares it: lower case, without a final dot.
std::string normalize_name(std::string_view name);

// nullopt when the message is malformed or does not answer `name`/`type`; `error` says why.
std::optional<Answer> parse_answer(std::span<const unsigned char> message, std::string_view name,
                                   RecordType type, std::string* error = nullptr);

}  // namespace ringrelay::dns
