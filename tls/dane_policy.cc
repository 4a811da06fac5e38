// The dane and dane-only decisions, in Postfix's order: configuration, insecure MX, lookup
// failure, no records, unusable records, insecure MX policy; then the records and names to match.
#include "tls/dane_policy.hh"

#include <memory>

namespace ringrelay::tls {
namespace {

enum class Why { config, destination, cannot_authenticate };

// Postfix's dane_incompat: "dane" falls back (to encrypt when TLSA records exist but cannot
// authenticate, to may otherwise); "dane-only" defers.
DaneDecision incompatible(Policy& policy, Why why, const std::string& words) {
  DaneDecision d;
  if (policy.level == SecurityLevel::dane) {
    policy.level = why == Why::cannot_authenticate ? SecurityLevel::encrypt : SecurityLevel::may;
    d.downgrade = words;
    d.config_problem = why == Why::config;
  } else {
    policy.level = SecurityLevel::dane_only;
    d.refusal = why == Why::config ? "client TLS configuration problem" : words;
    d.config_problem = why == Why::config;
    if (why == Why::config) d.downgrade = words;
  }
  policy.tlsa.reset();
  return d;
}

}  // namespace

DaneDecision apply_dane(Policy& policy, const DaneFacts* facts, InsecureMxPolicy insecure_mx,
                        const std::string& config_problem) {
  if (policy.level != SecurityLevel::dane && policy.level != SecurityLevel::dane_only) return {};
  if (!config_problem.empty()) return incompatible(policy, Why::config, config_problem);
  if (facts == nullptr) return incompatible(policy, Why::destination, "non DNSSEC destination");
  if (facts->mx_insecure &&
      (policy.level == SecurityLevel::dane_only || insecure_mx == InsecureMxPolicy::may)) {
    return incompatible(policy, Why::destination, "non DNSSEC destination");
  }
  if (facts->tlsa == DaneFacts::Tlsa::failed) {
    // Never a silent downgrade: both levels defer.
    DaneDecision d;
    d.refusal = facts->failure;
    policy.tlsa.reset();
    return d;
  }
  if (facts->tlsa == DaneFacts::Tlsa::none || facts->records.empty())
    return incompatible(policy, Why::destination, "no TLSA records found");
  std::vector<TlsaRecord> usable = usable_tlsa(facts->records);
  if (usable.empty())
    return incompatible(policy, Why::cannot_authenticate, "TLSA records unusable");
  if (facts->mx_insecure && insecure_mx == InsecureMxPolicy::encrypt) {
    return incompatible(policy, Why::cannot_authenticate,
                        "Verification not possible, MX RRset is insecure");
  }
  policy.tlsa = std::make_shared<const std::vector<TlsaRecord>>(std::move(usable));
  policy.dane_names = facts->names;
  policy.dane_insecure_mx = facts->mx_insecure;
  return {};
}

}  // namespace ringrelay::tls
