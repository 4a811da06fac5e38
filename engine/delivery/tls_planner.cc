// TLS policy, peer names, plans, the shard's client context and the broken-peer memory.
#include "engine/delivery/tls_planner.hh"

#include <algorithm>
#include <vector>

namespace ringrelay::engine {

TlsPlanner::TlsPlanner(const EngineSettings& settings, Timers& timers,
                       const std::function<void(const std::string&)>& notice)
    : settings_(settings),
      timers_(timers),
      notice_(notice),
      sessions_(settings.tls.session_cache_timeout, settings.tls.session_cache_limit) {
  if (settings.tls.any_tls()) refresh_context();
}

TlsPlanner::~TlsPlanner() = default;

const tls::Policy& TlsPlanner::policy(const dns::Nexthop& hop) const {
  return settings_.tls.policy_for(hop);
}

tls::Policy TlsPlanner::policy_at(const dns::Nexthop& hop, const ServerAddress& server,
                                  tls::DaneDecision* decision) const {
  tls::Policy p = policy(hop);
  const std::string& problem = settings_.tls.dane_config_problem;
  tls::DaneDecision d = tls::apply_dane(
      p, server.dane.get(), settings_.tls.insecure_mx,
      problem.empty()
          ? problem
          : hop.host + ": " + std::string(tls::name_of(p.level)) + " configured " + problem);
  if (decision != nullptr) *decision = std::move(d);
  return p;
}

tls::PeerNames TlsPlanner::peer_names(const dns::Nexthop& hop, const ServerAddress& server) const {
  return tls::PeerNames{hop.host, server.hostname.empty() ? hop.host : server.hostname};
}

bool TlsPlanner::serves(const Connection& c, const dns::Nexthop& hop, const tls::PeerNames& names,
                        const ServerAddress* resolved) const {
  const tls::Policy& wanted = policy(hop);
  if (wanted.level != tls::SecurityLevel::dane && wanted.level != tls::SecurityLevel::dane_only)
    return tls::serves(c.established(), wanted, names);
  // DANE is judged with this next hop's own DNSSEC facts for the server: without them (the
  // server is not among its addresses) the connection must not carry its mail, even as "may".
  if ((resolved == nullptr || !resolved->dane) && settings_.tls.dane_config_problem.empty())
    return false;
  tls::DaneDecision decision;
  tls::Policy at_server = policy_at(hop, resolved != nullptr ? *resolved : c.server(), &decision);
  return decision.refusal.empty() && tls::serves(c.established(), at_server, names);
}

TlsOutcome TlsPlanner::reused_outcome(const Connection& c, const dns::Nexthop& hop,
                                      const tls::PeerNames& names,
                                      const ServerAddress* resolved) const {
  TlsOutcome outcome = c.tls_outcome();
  tls::DaneDecision decision;
  tls::Policy at_server = policy_at(hop, resolved != nullptr ? *resolved : c.server(), &decision);
  outcome.configured_level = std::string(tls::name_of(policy(hop).level));
  outcome.level = std::string(tls::name_of(at_server.level));
  outcome.downgrade = decision.downgrade;
  if (!c.established().tls) {
    outcome.authentication = "none";
    return outcome;
  }
  tls::Judgement judgement = tls::judge(at_server, c.established().certificate, names);
  outcome.trust = std::string(tls::trust_word(judgement.trust));
  outcome.authentication = std::string(tls::authentication_name(at_server, judgement));
  return outcome;
}

bool TlsPlanner::broken(const ServerAddress& server) {
  auto it = broken_peers_.find(server.address_port());
  if (it == broken_peers_.end()) return false;
  if (timers_.now() < it->second) return true;
  broken_peers_.erase(it);
  return false;
}

void TlsPlanner::remember_broken(const Connection& c) {
  if (settings_.tls.broken_peer_time.count() <= 0) return;
  if (broken_peers_.size() >= kBrokenPeerLimit) prune();
  if (broken_peers_.size() >= kBrokenPeerLimit) {
    // Still full of live entries: the one that would expire first goes.
    auto first = std::min_element(broken_peers_.begin(), broken_peers_.end(),
                                  [](const auto& a, const auto& b) { return a.second < b.second; });
    broken_peers_.erase(first);
  }
  broken_peers_[c.server().address_port()] = timers_.now() + settings_.tls.broken_peer_time;
  if (notice_) {
    notice_("TLS handshake with " + c.server().name_address_port() + " failed (" +
            c.close_reason() + "): retrying in plaintext; remembering the server as broken for " +
            std::to_string(settings_.tls.broken_peer_time.count()) + "s");
  }
}

void TlsPlanner::prune() {
  Clock::time_point now = timers_.now();
  std::erase_if(broken_peers_, [now](const auto& entry) { return entry.second <= now; });
}

void TlsPlanner::refresh_context() {
  if (context_ && context_settings_ == settings_.tls.context &&
      context_generation_ == settings_.generation) {
    return;
  }
  try {
    // Loading the CAs (the system bundle: ~140 certificates) takes milliseconds: once per shard
    // at start, and again after each reload, so that renewed files are used.
    context_generation_ = settings_.generation;
    context_ = std::make_unique<tls::Context>(tls::Role::client, settings_.tls.context);
    context_settings_ = settings_.tls.context;
  } catch (const tls::ContextError& e) {
    // Checked at start; a file broken since a reload leaves TLS unavailable, loudly.
    if (notice_) notice_("warning: TLS is unavailable: " + std::string(e.what()));
    context_.reset();
  }
}

TlsPlan TlsPlanner::plan(const dns::Nexthop& hop, const ServerAddress& server, bool plaintext) {
  TlsPlan plan;
  tls::DaneDecision decision;
  plan.policy = policy_at(hop, server, &decision);
  plan.refusal = std::move(decision.refusal);
  plan.downgrade = std::move(decision.downgrade);
  plan.configured_level = policy(hop).level;
  plan.note_starttls_offer = settings_.tls.note_starttls_offer;
  if (!plan.policy.uses_tls()) return plan;
  refresh_context();
  plan.context = context_.get();
  plan.sessions = &sessions_;
  plan.names = peer_names(hop, server);
  plan.digest = settings_.tls.fingerprint_digest;
  plan.loglevel = settings_.tls.loglevel;
  plan.plaintext = !plan.policy.mandatory() && (plaintext || broken(server));
  return plan;
}

}  // namespace ringrelay::engine
