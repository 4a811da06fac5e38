// The address plan for one next hop, as pure functions over looked-up records: shuffling of equal
// preferences and sorting by preference and address family (smtp_randomize_addresses,
// smtp_address_preference), the address limit with both families kept (smtp_balance_inet_protocols,
// smtp_mx_address_limit), and finding this host among the mail exchangers (loop detection).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "dns/answer.hh"

namespace ringrelay::dns {

// What DNSSEC said of one mail exchanger, for DANE (RFC 7672 2.2): looked up only when asked.
struct DaneDns {
  bool mx_insecure = false;     // reached through an MX RRset that was not validated
  bool address_secure = false;  // its address records were validated
  std::string canonical;        // its name after CNAMEs (RFC 7672 2.2.2)
  enum class Tlsa { not_looked_up, none, found, failed } tlsa = Tlsa::not_looked_up;
  std::vector<Record> records;  // validated TLSA records, when found
  std::string base;             // the name whose TLSA records they are
  std::string failure;          // Postfix's words for a failed lookup
};

struct Target {
  std::string hostname;  // the MX host, or the name that was looked up
  std::string address;   // printable IPv4 or IPv6 address
  unsigned preference = 0;
  std::uint16_t port = 25;
  unsigned site = 0;  // 0: the destination itself; 1, 2, ...: the smtp_fallback_relay entries
  std::shared_ptr<const DaneDns> dane;  // resolved with dane: what DNSSEC said of the host
  bool ipv6() const { return address.find(':') != std::string::npos; }
};

enum class AddressPreference { any, ipv4, ipv6 };

struct PlanOptions {
  AddressPreference address_preference = AddressPreference::any;
  bool randomize = true;
  bool balance = true;
  std::size_t address_limit = 5;  // 0: no limit
};

// Shuffles (when randomize) and then stably sorts by preference and, with a family preference,
// by family within a preference. With `sort_by_preference` false only the shuffle and the family
// order apply (one host's addresses: Postfix sorts those only when both families are enabled).
void order_targets(std::vector<Target>& targets, const PlanOptions& options, std::mt19937& random,
                   bool sort_by_preference = true);

// Cuts the list to the address limit; with balance, an address of a family that the limit would
// leave out entirely takes the last place kept.
void limit_targets(std::vector<Target>& targets, const PlanOptions& options);

// The preference of the first target (in order) whose address is one of `self`, if any.
std::optional<unsigned> find_self(const std::vector<Target>& targets,
                                  const std::vector<std::string>& self);

// Drops every target at `preference` or worse (the list must be sorted by preference).
void truncate_at(std::vector<Target>& targets, unsigned preference);

}  // namespace ringrelay::dns
