// Fuzzes the TLS policy parsers (policy table entries, protocol lists) and the certificate name
// matcher with arbitrary text: each returns a policy or refuses with a reason, never crashes, and
// what it returns is usable (a cipher list for wolfSSL, a non-empty protocol range).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "tls/peer_check.hh"
#include "tls/policy.hh"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace ringrelay::tls;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  std::string error;
  auto policy = parse_policy_entry(text, PolicyDefaults{}, error);
  if (!policy) {
    if (error.empty()) std::abort();  // a refusal always says why
  } else {
    if (policy->cipher_list.empty() && policy->uses_tls()) std::abort();
    if (policy->protocols.min > policy->protocols.max) std::abort();
    (void)policy->key();
  }
  error.clear();
  auto range = parse_protocols(text, error);
  if (range ? range->min > range->max : error.empty()) std::abort();
  // Split the input in two for the name matcher: certificate name | pattern.
  std::size_t bar = text.find('|');
  if (bar != std::string_view::npos) (void)name_matches(text.substr(0, bar), text.substr(bar + 1));
  return 0;
}
