// Reading TlsSettings: main.cf's TLS parameters into policy defaults, the policy maps, and a
// trial client context so that a bad certificate, key or CA file stops the start (exit 78).
#include "engine/config/tls_settings.hh"

#include <stdexcept>

#include "engine/config/lookup_table.hh"
#include "proto/ascii.hh"

namespace ringrelay::engine {
namespace {

std::string joined(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : " ") + item;
  return out;
}

// Trust anchors for verify and secure policies (Postfix's smtp_tls_trust_anchor_file and tafile=):
// the files are read now, so that a missing one stops the start; other levels have none.
void load_anchors(tls::Policy& policy, const std::vector<std::string>& main_cf_files,
                  const std::string& where) {
  if (policy.level != tls::SecurityLevel::verify && policy.level != tls::SecurityLevel::secure)
    return;
  if (policy.trust_anchor_files.empty()) policy.trust_anchor_files = main_cf_files;
  if (policy.trust_anchor_files.empty()) return;
  try {
    policy.trust_anchors = std::make_shared<const std::vector<tls::TlsaRecord>>(
        tls::load_trust_anchors(policy.trust_anchor_files));
  } catch (const std::runtime_error& e) {
    throw ConfigError(where + ": " + e.what());
  }
}

tls::SecurityLevel level_of(const Config& c, const char* name) {
  auto level = tls::parse_security_level(c.value(name));
  if (!level) throw ConfigError(std::string(name) + " = " + c.value(name) + ": unknown level");
  return *level;
}

// main.cf's level for SMTP ("smtp") or LMTP ("lmtp") next hops. Postfix decides it from the
// legacy names when <prefix>_tls_security_level is empty: <prefix>_enforce_tls (verify with
// <prefix>_tls_enforce_peername, else encrypt), then <prefix>_use_tls (may), else none.
// ringrelay's default SMTP level (may) stands for "empty" only while main.cf sets neither legacy
// name, so that a migrated main.cf keeps the TLS it asked for.
tls::SecurityLevel main_level(const Config& c, const std::string& prefix) {
  std::string level_name = prefix + "_tls_security_level";
  std::string use_name = prefix + "_use_tls", enforce_name = prefix + "_enforce_tls";
  bool use = c.boolean(use_name), enforce = c.boolean(enforce_name);
  bool peername = c.boolean(prefix + "_tls_enforce_peername");
  bool legacy = c.is_set_in_file(use_name) || c.is_set_in_file(enforce_name);
  bool level_given = c.is_set_in_file(level_name);
  if (c.value(level_name).empty() || (legacy && !level_given)) {
    if (enforce) return peername ? tls::SecurityLevel::verify : tls::SecurityLevel::encrypt;
    return use ? tls::SecurityLevel::may : tls::SecurityLevel::none;
  }
  return level_of(c, level_name.c_str());
}

// The client certificate: smtp_tls_chain_files (Postfix 3.4) takes precedence over the legacy
// pairs, as in Postfix. wolfSSL keeps one certificate per context, so ringrelay presents one
// where Postfix could offer an RSA and an ECDSA one and let the server's algorithms choose: the
// others are said at start, not silently dropped.
void client_certificate(const Config& c, TlsSettings& t) {
  std::string cert = c.value("smtp_tls_cert_file"), key = c.value("smtp_tls_key_file");
  std::string eccert = c.value("smtp_tls_eccert_file"), eckey = c.value("smtp_tls_eckey_file");
  std::vector<std::string> chains = c.list("smtp_tls_chain_files");
  const std::string one =
      "ringrelay presents one client certificate (wolfSSL keeps one per "
      "context)";
  if (!chains.empty()) {
    t.context.chain_file = chains.front();
    for (std::size_t i = 1; i < chains.size(); ++i) {
      t.notices.push_back("warning: smtp_tls_chain_files: " + chains[i] + " is not used: " + one +
                          "; " + chains.front() + " is");
    }
    if (!cert.empty() || !eccert.empty()) {
      t.notices.push_back(
          "warning: smtp_tls_chain_files is set: smtp_tls_cert_file and "
          "smtp_tls_eccert_file are not used (as in Postfix)");
    }
    return;
  }
  if (!cert.empty()) {
    t.context.cert_file = cert;
    t.context.key_file = key;
    if (!eccert.empty()) {
      t.notices.push_back("warning: smtp_tls_eccert_file: " + eccert + " is not used: " + one +
                          "; smtp_tls_cert_file " + cert + " is");
    }
  } else if (!eccert.empty()) {
    t.context.cert_file = eccert;
    t.context.key_file = eckey;
  }
}

}  // namespace

const tls::Policy& TlsSettings::policy_for(const dns::Nexthop& hop) const {
  if (hop.protocol == dns::Protocol::lmtp) return lmtp_policy;
  if (!policy_map.empty()) {
    std::string key = proto::ascii_lower(hop.key());
    if (auto it = policy_map.find(key); it != policy_map.end()) return it->second;
    if (hop.kind == dns::Nexthop::Kind::domain && hop.port == 25) {
      for (auto dot = key.find('.'); dot != std::string::npos; dot = key.find('.', dot + 1)) {
        if (auto it = policy_map.find(std::string_view(key).substr(dot)); it != policy_map.end())
          return it->second;
      }
    }
  }
  return default_policy;
}

bool TlsSettings::any_tls() const {
  bool any = default_policy.uses_tls() || lmtp_policy.uses_tls();
  for (const auto& [key, policy] : policy_map) any = any || policy.uses_tls();
  return any;
}

bool TlsSettings::any_dane() const {
  auto dane = [](const tls::Policy& p) {
    return p.level == tls::SecurityLevel::dane || p.level == tls::SecurityLevel::dane_only;
  };
  bool any = dane(default_policy) || dane(lmtp_policy);
  for (const auto& [key, policy] : policy_map) any = any || dane(policy);
  return any;
}

TlsSettings tls_settings(const Config& c) {
  TlsSettings t;
  tls::PolicyDefaults& d = t.defaults;
  d.level = main_level(c, "smtp");
  d.protocols = joined(c.list("smtp_tls_protocols"));
  d.mandatory_protocols = joined(c.list("smtp_tls_mandatory_protocols"));
  d.ciphers = c.value("smtp_tls_ciphers");
  d.mandatory_ciphers = c.value("smtp_tls_mandatory_ciphers");
  d.exclude_ciphers = c.list("smtp_tls_exclude_ciphers");
  d.mandatory_exclude_ciphers = c.list("smtp_tls_mandatory_exclude_ciphers");
  // Postfix: mandatory exclusions add to the opportunistic ones.
  d.mandatory_exclude_ciphers.insert(d.mandatory_exclude_ciphers.end(), d.exclude_ciphers.begin(),
                                     d.exclude_ciphers.end());
  d.fingerprint_match = c.list("smtp_tls_fingerprint_cert_match");
  d.verify_match = c.list("smtp_tls_verify_cert_match");
  d.secure_match = c.list("smtp_tls_secure_cert_match");
  d.servername = c.value("smtp_tls_servername");
  try {
    t.default_policy = tls::default_policy(d.level, d);
    t.lmtp_policy = tls::default_policy(main_level(c, "lmtp"), d);
  } catch (const std::invalid_argument& e) {
    throw ConfigError(e.what());
  }
  std::vector<std::string> anchors = c.list("smtp_tls_trust_anchor_file");
  load_anchors(t.default_policy, anchors, "smtp_tls_trust_anchor_file");
  load_anchors(t.lmtp_policy, anchors, "smtp_tls_trust_anchor_file");
  std::string insecure_mx = c.value("smtp_tls_dane_insecure_mx_policy");
  t.insecure_mx = insecure_mx == "may"       ? tls::InsecureMxPolicy::may
                  : insecure_mx == "encrypt" ? tls::InsecureMxPolicy::encrypt
                                             : tls::InsecureMxPolicy::dane;
  if (d.level == tls::SecurityLevel::fingerprint && d.fingerprint_match.empty()) {
    throw ConfigError(
        "smtp_tls_security_level = fingerprint needs smtp_tls_fingerprint_cert_match");
  }
  for (const std::string& map : c.list("smtp_tls_policy_maps")) {
    for (const TableEntry& entry : read_lookup_table(map)) {
      std::string error;
      auto policy = tls::parse_policy_entry(entry.value, d, error);
      if (!policy) throw ConfigError(entry.where + ": " + entry.value + ": " + error);
      load_anchors(*policy, anchors, entry.where);
      t.policy_map.emplace(entry.key, std::move(*policy));
    }
  }
  t.context.ca_file = c.value("smtp_tls_CAfile");
  t.context.ca_path = c.value("smtp_tls_CApath");
  t.context.append_system_cas = c.boolean("tls_append_default_CA");
  client_certificate(c, t);
  t.context.verify_depth = static_cast<int>(c.integer("smtp_tls_scert_verifydepth"));
  t.fingerprint_digest = c.value("smtp_tls_fingerprint_digest");
  t.session_cache_timeout = std::chrono::seconds(c.seconds("smtp_tls_session_cache_timeout"));
  t.broken_peer_time = std::chrono::seconds(c.seconds("smtp_tls_broken_peer_time"));
  t.loglevel = static_cast<int>(c.integer("smtp_tls_loglevel"));
  t.connection_reuse = c.boolean("smtp_tls_connection_reuse");
  t.note_starttls_offer = c.boolean("smtp_tls_note_starttls_offer");
  // Load the files once here, in the main thread, so that mistakes stop the start.
  if (t.any_tls()) {
    try {
      tls::Context trial(tls::Role::client, t.context);
    } catch (const tls::ContextError& e) {
      throw ConfigError(e.what());
    }
  }
  return t;
}

}  // namespace ringrelay::engine
