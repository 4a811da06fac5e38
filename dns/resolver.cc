// The next-hop resolver: per site (the destination, then each fallback relay) an MX or host
// lookup through the record cache, turned into targets or into a failure with Postfix's status
// and words; then the sites combined as smtp_connect.c combines them.
#include "dns/resolver.hh"

#include <netdb.h>

#include <algorithm>

namespace ringrelay::dns {
namespace {

std::string name_service_error(const std::string& name, RecordType type, const std::string& why) {
  return "Host or domain name not found. Name service error for name=" + name +
         " type=" + std::string(record_type_name(type)) + ": " + why;
}

// Postfix's status for a failed DNS lookup of a host (smtp_addr_one).
std::string host_dsn(LookupStatus status) {
  switch (status) {
    case LookupStatus::try_again:
      return "4.4.3";
    case LookupStatus::failed:
      return "5.4.3";
    default:
      return "5.4.4";
  }
}

int severity(LookupStatus status) {
  switch (status) {
    case LookupStatus::try_again:
      return 3;
    case LookupStatus::failed:
      return 2;
    case LookupStatus::not_found:
    case LookupStatus::no_data:
      return 1;
    case LookupStatus::ok:
      return 0;
  }
  return 0;
}

void soften(std::string& dsn) {
  if (!dsn.empty() && dsn[0] == '5') dsn[0] = '4';
}

}  // namespace

// One host's addresses, or why there are none.
struct Resolver::HostLookup {
  std::vector<Target> targets;
  bool soft = false;
  std::string dsn, text;
  DnsClock::time_point expires = DnsClock::time_point::max();
};

struct Resolver::Site {
  std::shared_ptr<Resolution> resolution;
  std::size_t index = 0;
  Nexthop hop;
  bool loop_detect = false;
  std::vector<Target> targets;
  bool hard = false;
  std::string dsn, text;
  bool final_site = false;   // mail loops, null MX, or we are a backup MX: no fallback relay
  bool dane = false;         // look up TLSA records for the targets before finishing
  bool mx_insecure = false;  // the MX RRset was not validated
  std::size_t tlsa_waiting = 0;
  DnsClock::time_point expires = DnsClock::time_point::max();
  // MX phase: the exchangers in preference order and their lookups.
  std::vector<Record> exchangers;
  std::vector<HostLookup> hosts;
  std::size_t hosts_waiting = 0;

  void fail(bool hard_failure, std::string status, std::string why) {
    targets.clear();
    hard = hard_failure;
    dsn = std::move(status);
    text = std::move(why);
  }
  void expire_by(DnsClock::time_point t) { expires = std::min(expires, t); }
};

// The sites' outcomes are copied here as each finishes, so that nothing points back at a site
// (pending callbacks own their site, the site owns the resolution: no cycle to leak).
struct Resolver::Resolution {
  Nexthop hop;
  std::vector<Site> finished;
  std::size_t waiting = 0;
  std::function<void(Plan)> done;
};

Resolver::Resolver(Lookups& lookups, NativeLookup* native, ResolverOptions options)
    : lookups_(lookups),
      native_(native),
      options_(std::move(options)),
      random_(std::random_device{}()) {}

Resolver::~Resolver() = default;

void Resolver::resolve(const Nexthop& hop, std::function<void(Plan)> done, bool dane) {
  auto r = std::make_shared<Resolution>();
  r->hop = hop;
  r->done = std::move(done);
  std::vector<Nexthop> hops{hop};
  const auto& fallbacks =
      hop.protocol == Protocol::smtp ? options_.fallback_relays : options_.lmtp_fallback_relays;
  hops.insert(hops.end(), fallbacks.begin(), fallbacks.end());
  r->finished.resize(hops.size());
  r->waiting = hops.size();
  for (std::size_t i = 0; i < hops.size(); ++i) {
    auto site = std::make_shared<Site>();
    site->index = i;
    site->hop = hops[i];
    // As Postfix: loop detection for SMTP to the SMTP port only.
    site->loop_detect = hops[i].protocol == Protocol::smtp && hops[i].port == 25;
    site->dane = dane && hops[i].kind != Nexthop::Kind::unix_socket;
    site->resolution = r;
    resolve_site(site);
  }
}

void Resolver::resolve_site(const std::shared_ptr<Site>& site) {
  const Nexthop& hop = site->hop;
  if (hop.kind == Nexthop::Kind::unix_socket) {
    site->fail(true, "5.3.5", "UNIX-domain socket next hops are not looked up");
    finish_site(site);
    return;
  }
  if (hop.kind == Nexthop::Kind::address) {
    site->targets.push_back(Target{hop.host, hop.host, 0, hop.port, 0});
    if (site->loop_detect && find_self(site->targets, options_.self_addresses)) {
      site->fail(true, "5.4.6", "mail for " + hop.host + " loops back to myself");
      site->final_site = true;
    }
    finish_site(site);
    return;
  }
  // LMTP next hops are hosts, never mail domains (Postfix does no MX lookup for LMTP).
  if (hop.kind == Nexthop::Kind::domain && hop.protocol == Protocol::smtp && options_.mx_lookups) {
    resolve_domain(site);
  } else {
    resolve_host(site);
  }
}

void Resolver::resolve_host(const std::shared_ptr<Site>& site) {
  lookup_host(site->hop.host, 0, site->dane, [this, site](HostLookup found) {
    site->expire_by(found.expires);
    if (found.targets.empty()) {
      site->fail(!found.soft, found.dsn, found.text);
      finish_site(site);
      return;
    }
    site->targets = std::move(found.targets);
    if (site->loop_detect && find_self(site->targets, options_.self_addresses)) {
      site->fail(true, "5.4.6", "mail for " + site->hop.host + " loops back to myself");
      site->final_site = true;
      finish_site(site);
      return;
    }
    // One host's addresses: shuffled, and ordered by family only when both are in use.
    PlanOptions plan = options_.plan;
    if (!(options_.ipv4 && options_.ipv6)) plan.address_preference = AddressPreference::any;
    order_targets(site->targets, plan, random_, false);
    limit_targets(site->targets, options_.plan);
    finish_site(site);
  });
}

void Resolver::resolve_domain(const std::shared_ptr<Site>& site) {
  const std::string name = site->hop.host;
  lookups_.lookup(name, RecordType::mx, [this, site, name](const LookupResult& mx) {
    site->expire_by(mx.expires);
    std::string text = name_service_error(name, RecordType::mx, mx.reason);
    switch (mx.status) {
      case LookupStatus::no_data:
        resolve_host(site);  // no MX record: the domain is its own mail exchanger
        return;
      case LookupStatus::not_found:
      case LookupStatus::try_again:
      case LookupStatus::failed:
        if (options_.ignore_mx_lookup_error && mx.status != LookupStatus::not_found) {
          resolve_host(site);
          return;
        }
        site->fail(mx.status != LookupStatus::try_again,
                   mx.status == LookupStatus::not_found ? "5.4.4" : host_dsn(mx.status), text);
        finish_site(site);
        return;
      case LookupStatus::ok:
        break;
    }
    // A null MX (RFC 7505: one record, "."), or only "." among other records: nothing usable.
    for (const Record& r : mx.records) {
      if (!r.host.empty()) site->exchangers.push_back(r);
    }
    site->mx_insecure = !mx.secure;
    if (site->exchangers.empty()) {
      site->fail(true, "5.1.0", "Domain " + name + " does not accept mail (nullMX)");
      site->final_site = true;
      finish_site(site);
      return;
    }
    std::stable_sort(site->exchangers.begin(), site->exchangers.end(),
                     [](const Record& a, const Record& b) { return a.preference < b.preference; });
    site->hosts.resize(site->exchangers.size());
    site->hosts_waiting = site->exchangers.size();
    for (std::size_t i = 0; i < site->exchangers.size(); ++i) {
      lookup_host(site->exchangers[i].host, site->exchangers[i].preference, site->dane,
                  [this, site, i](HostLookup found) {
                    site->hosts[i] = std::move(found);
                    if (--site->hosts_waiting == 0) plan_exchangers(site);
                  });
    }
  });
}

void Resolver::plan_exchangers(const std::shared_ptr<Site>& site) {
  // Every exchanger looked up: the plan, as smtp_domain_addr() makes it.
  bool soft = false;
  std::string last_dsn, last_text;
  for (HostLookup& h : site->hosts) {
    site->expire_by(h.expires);
    if (h.targets.empty()) {
      soft |= h.soft;
      last_dsn = h.dsn;
      last_text = h.text;
    }
    for (Target& t : h.targets) site->targets.push_back(std::move(t));
  }
  const std::string& domain = site->hop.host;
  if (site->targets.empty()) {
    if (soft || options_.defer_if_no_mx_address) soften(last_dsn);
    site->fail(last_dsn[0] == '5', last_dsn, last_text);
    finish_site(site);
    return;
  }
  unsigned best_pref = site->exchangers.front().preference;
  unsigned best_found = site->targets.front().preference;
  auto self = site->loop_detect ? find_self(site->targets, options_.self_addresses) : std::nullopt;
  if (self) {
    truncate_at(site->targets, *self);
    site->final_site = true;  // we are an MX host: no fallback relay
  }
  if (site->targets.empty()) {
    if (best_pref != best_found) {
      site->fail(false, "4.4.4", "unable to find primary relay for " + domain);
    } else {
      site->fail(true, "5.4.6", "mail for " + domain + " loops back to myself");
    }
  } else {
    order_targets(site->targets, options_.plan, random_, true);
    limit_targets(site->targets, options_.plan);
  }
  finish_site(site);
}

// The A and/or AAAA lookups of one host, finished once all have answered.
struct Resolver::HostQueries {
  std::string name;
  unsigned preference = 0;
  std::vector<RecordType> types;
  std::vector<LookupResult> results;
  std::size_t waiting = 0;
  bool dane = false;
  std::function<void(HostLookup)> done;
};

void Resolver::lookup_host(const std::string& name, unsigned preference, bool dane,
                           std::function<void(HostLookup)> done) {
  if (!options_.host_dns) {
    lookup_native(name, preference, std::move(done));
    return;
  }
  auto q = std::make_shared<HostQueries>();
  q->name = name;
  q->preference = preference;
  q->dane = dane;
  if (options_.ipv4) q->types.push_back(RecordType::a);
  if (options_.ipv6) q->types.push_back(RecordType::aaaa);
  q->results.resize(q->types.size());
  q->waiting = q->types.size();
  q->done = std::move(done);
  if (q->types.empty()) {  // as Postfix: nothing can be looked up or connected to
    q->done(HostLookup{{}, true, "4.4.4", "all network protocols are disabled"});
    return;
  }
  for (std::size_t i = 0; i < q->types.size(); ++i) {
    lookups_.lookup(name, q->types[i], [this, q, i](const LookupResult& r) {
      q->results[i] = r;
      if (--q->waiting == 0) finish_host(*q);
    });
  }
}

void Resolver::finish_host(HostQueries& q) {
  HostLookup found;
  std::size_t worst = 0;
  for (std::size_t i = 0; i < q.types.size(); ++i) {
    const LookupResult& r = q.results[i];
    found.expires = std::min(found.expires, r.expires);
    for (const Record& record : r.records) {
      found.targets.push_back(Target{q.name, record.address, q.preference, 25, 0});
    }
    if (severity(r.status) > severity(q.results[worst].status)) worst = i;
  }
  if (!found.targets.empty()) {
    if (q.dane) {
      // Secure when every address record set that gave addresses was validated.
      auto facts = std::make_shared<DaneDns>();
      facts->address_secure = true;
      for (const LookupResult& r : q.results) {
        if (r.records.empty()) continue;
        facts->address_secure = facts->address_secure && r.secure;
        if (facts->canonical.empty()) facts->canonical = r.canonical_name;
      }
      for (Target& t : found.targets) t.dane = facts;
    }
    q.done(std::move(found));
    return;
  }
  const LookupResult& failure = q.results[worst];
  if (failure.status != LookupStatus::try_again && failure.status != LookupStatus::failed &&
      options_.host_native) {
    lookup_native(q.name, q.preference, std::move(q.done));  // maybe the native service knows it
    return;
  }
  found.soft = failure.status == LookupStatus::try_again;
  found.dsn = host_dsn(failure.status);
  found.text = name_service_error(q.name, q.types[worst], failure.reason);
  q.done(std::move(found));
}

void Resolver::lookup_native(const std::string& name, unsigned preference,
                             std::function<void(HostLookup)> done) {
  if (native_ == nullptr) {
    HostLookup found;
    found.soft = true;
    found.dsn = "4.3.0";
    found.text = "unable to look up host " + name + ": the system's resolver is not available";
    done(std::move(found));
    return;
  }
  native_->lookup(name, [this, name, preference, done = std::move(done)](NativeResult r) {
    HostLookup found;
    found.expires = DnsClock::now() + options_.native_ttl;
    for (const std::string& address : r.addresses) {
      Target t{name, address, preference, 25, 0};
      if (t.ipv6() ? options_.ipv6 : options_.ipv4) found.targets.push_back(std::move(t));
    }
    if (r.error == 0 && !found.targets.empty()) {
      done(std::move(found));
      return;
    }
    found.expires = DnsClock::now() + lookups_.limits().negative_time;
    bool no_host = r.error == EAI_AGAIN || r.error == EAI_NONAME
#ifdef EAI_NODATA
                   || r.error == EAI_NODATA
#endif
        ;
    bool retry = r.error == EAI_AGAIN || r.error == EAI_MEMORY || r.error == EAI_SYSTEM;
    if (r.error == 0) {
      found.dsn = "5.4.4";
      found.text = name + ": host not found";
    } else {
      found.soft = retry;
      found.dsn = retry ? (no_host ? "4.4.4" : "4.3.0") : (no_host ? "5.4.4" : "5.3.0");
      found.text = "unable to look up host " + name + ": " + r.error_text;
    }
    done(std::move(found));
  });
}

// Each distinct host's TLSA records, looked up as RFC 7672 2.2.2 and Postfix's tls_dane_resolve
// do: only for hosts whose addresses are secure (unless forced); the CNAME-expanded name first,
// then the host's own name when that found nothing; a failed lookup is never "none".
void Resolver::lookup_tlsa(const std::shared_ptr<Site>& site) {
  std::vector<std::pair<std::string, std::shared_ptr<DaneDns>>> hosts;
  for (const Target& t : site->targets) {
    auto same = [&](const auto& h) { return h.first == t.hostname; };
    if (std::find_if(hosts.begin(), hosts.end(), same) != hosts.end()) continue;
    auto facts = std::make_shared<DaneDns>(t.dane ? *t.dane : DaneDns{});
    facts->mx_insecure = site->mx_insecure;
    hosts.emplace_back(t.hostname, std::move(facts));
  }
  site->tlsa_waiting = hosts.size();
  auto finished = [this, site, hosts] {
    if (--site->tlsa_waiting > 0) return;
    for (Target& t : site->targets) {
      for (const auto& [host, facts] : hosts) {
        if (host == t.hostname) t.dane = facts;
      }
    }
    site->dane = false;  // done: finish_site goes on
    finish_site(site);
  };
  for (const auto& [host, facts] : hosts) tlsa_for(host, site->hop.port, facts, false, finished);
}

void Resolver::tlsa_for(const std::string& host, std::uint16_t port,
                        const std::shared_ptr<DaneDns>& facts, bool alias_tried,
                        std::function<void()> done) {
  bool alias = !facts->canonical.empty() && facts->canonical != host;
  if (!facts->address_secure && !options_.force_insecure_host_tlsa) {
    facts->tlsa = DaneDns::Tlsa::none;
    done();
    return;
  }
  const std::string& base =
      facts->address_secure && alias && !alias_tried ? facts->canonical : host;
  std::string name = "_" + std::to_string(port) + "._tcp." + base;
  lookups_.lookup(name, RecordType::tlsa,
                  [this, host, port, facts, base, alias, alias_tried,
                   done = std::move(done)](const LookupResult& r) mutable {
                    if (r.status == LookupStatus::try_again || r.status == LookupStatus::failed) {
                      facts->tlsa = DaneDns::Tlsa::failed;
                      facts->failure = "TLSA lookup error for " + host + ":" + std::to_string(port);
                      done();
                      return;
                    }
                    if (r.status == LookupStatus::ok && r.secure && !r.records.empty()) {
                      facts->tlsa = DaneDns::Tlsa::found;
                      facts->records = r.records;
                      facts->base = base;
                      done();
                      return;
                    }
                    if (alias && !alias_tried && base != host) {
                      tlsa_for(host, port, facts, true, std::move(done));
                      return;
                    }
                    facts->tlsa = DaneDns::Tlsa::none;
                    done();
                  });
}

void Resolver::finish_site(const std::shared_ptr<Site>& site) {
  if (site->dane && !site->targets.empty()) {
    lookup_tlsa(site);
    return;
  }
  std::shared_ptr<Resolution> r = std::move(site->resolution);
  if (!r) return;
  r->finished[site->index] = std::move(*site);
  if (--r->waiting == 0) combine(*r);
}

void Resolver::combine(Resolution& r) {
  Plan plan;
  plan.expires = DnsClock::time_point::max();
  const Site* last = nullptr;
  for (const Site& s : r.finished) {
    const Site* site = &s;
    last = site;
    plan.expires = std::min(plan.expires, site->expires);
    for (Target t : site->targets) {
      t.port = site->hop.port;
      t.site = static_cast<unsigned>(site->index);
      plan.targets.push_back(std::move(t));
    }
    if (site->final_site) break;
  }
  if (plan.targets.empty() && last != nullptr) {
    plan.hard = last->hard;
    plan.dsn = last->dsn;
    plan.text = last->text;
    if (plan.hard && !options_.relayhost_key.empty() && r.hop.key() == options_.relayhost_key) {
      // Postfix: a relayhost that does not resolve is a configuration problem, not a bounce.
      plan.hard = false;
      plan.dsn = "4.3.5";
    }
  }
  // Only literal addresses were involved: nothing can change, so there is nothing to look up again
  // soon (and a next hop's every dispatch does not redo this).
  if (plan.expires == DnsClock::time_point::max()) {
    plan.expires = DnsClock::now() + (plan.targets.empty() ? lookups_.limits().negative_time
                                                           : lookups_.limits().ttl_limit);
  }
  auto done = std::move(r.done);
  r.finished.clear();
  done(std::move(plan));
}

}  // namespace ringrelay::dns
