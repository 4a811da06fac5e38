// The shard's resolver: c-ares sockets watched with one-shot polls on the ring (re-armed after
// each event; a socket c-ares gives up gets its poll removed, and the watch lives until that
// poll's completion so that a reused fd number never meets a stale watch), its timeouts on a
// shard timer, and dns::Plan turned into ServerAddresses.
#include "engine/delivery/shard_resolver.hh"

#include <poll.h>

#include <algorithm>

#include "engine/delivery/native_lookup.hh"

namespace ringrelay::engine {
namespace {

// One host's DNSSEC facts as the TLS policy reads them (made once per host and plan).
std::shared_ptr<const tls::DaneFacts> dane_facts(
    const dns::DaneDns& found, const std::string& hostname,
    std::vector<std::pair<const dns::DaneDns*, std::shared_ptr<const tls::DaneFacts>>>& made) {
  for (const auto& [from, facts] : made) {
    if (from == &found) return facts;
  }
  auto facts = std::make_shared<tls::DaneFacts>();
  facts->mx_insecure = found.mx_insecure;
  facts->tlsa = found.tlsa == dns::DaneDns::Tlsa::found    ? tls::DaneFacts::Tlsa::found
                : found.tlsa == dns::DaneDns::Tlsa::failed ? tls::DaneFacts::Tlsa::failed
                                                           : tls::DaneFacts::Tlsa::none;
  for (const dns::Record& r : found.records)
    facts->records.push_back(tls::TlsaRecord{r.usage, r.selector, r.mtype, r.data});
  // RFC 7672 3.2.2 reference identifiers: the TLSA base name, the MX host name, its expansion.
  for (const std::string& name : {found.base, hostname, found.canonical}) {
    if (!name.empty() &&
        std::find(facts->names.begin(), facts->names.end(), name) == facts->names.end())
      facts->names.push_back(name);
  }
  facts->failure = found.failure;
  made.emplace_back(&found, facts);
  return facts;
}

}  // namespace

struct ShardResolver::Watch : Completion {
  ShardResolver* owner = nullptr;
  int fd = -1;
  bool readable = false, writable = false;
  bool armed = false;        // a poll is in flight
  bool retired = false;      // c-ares is done with the fd; freed when the poll completes
  bool dispatching = false;  // inside its completion: on_poll frees it if retired meanwhile
};

ShardResolver::ShardResolver(Ring& ring, Timers& timers, const EngineSettings& settings)
    : ring_(ring), timers_(timers), settings_(&settings) {
  native_ = std::make_unique<NativeLookupThread>(ring);
  dns::EventHooks& hooks = *this;
  channel_ = std::make_unique<dns::Channel>(hooks, settings.dns_channel);
  lookups_ = std::make_unique<dns::Lookups>(*channel_, settings.dns_cache);
  resolver_ = std::make_unique<dns::Resolver>(*lookups_, native_.get(), settings.resolver);
}

ShardResolver::~ShardResolver() {
  resolver_.reset();
  lookups_.reset();
  channel_.reset();  // closes its sockets: their watches are retired
  native_.reset();
  timeout_.cancel();
  // Polls still in flight are removed; the shard never runs its ring again after its resolver
  // is gone (the shard's last drain happens before), so freeing the watches here is safe.
  for (auto& [watch, owned] : watches_) {
    watch->handler = nullptr;
    if (watch->armed) {
      io_uring_prep_poll_remove(ring_.prepare_untracked(), reinterpret_cast<std::uint64_t>(watch));
    }
  }
}

void ShardResolver::reload(const EngineSettings& settings) {
  settings_ = &settings;
  resolver_->set_options(settings.resolver);
  lookups_->set_limits(settings.dns_cache);
}

void ShardResolver::resolve(const dns::Nexthop& hop, std::function<void(ResolveAnswer)> done) {
  if (hop.kind == dns::Nexthop::Kind::unix_socket) {
    ResolveAnswer answer;
    answer.addresses.push_back(unix_address(hop.host));
    answer.expires = Clock::now() + std::chrono::hours(1);
    done(std::move(answer));
    return;
  }
  tls::SecurityLevel level = settings_->tls.policy_for(hop).level;
  bool dane = settings_->tls.dane_config_problem.empty() &&
              (level == tls::SecurityLevel::dane || level == tls::SecurityLevel::dane_only);
  auto finish = [done = std::move(done)](dns::Plan plan) {
    ResolveAnswer answer;
    answer.expires = plan.expires;
    std::vector<std::pair<const dns::DaneDns*, std::shared_ptr<const tls::DaneFacts>>> converted;
    for (const dns::Target& t : plan.targets) {
      auto address = numeric_address(t.address, t.port);
      if (!address) continue;
      address->hostname = t.hostname;
      address->site = t.site;
      if (t.dane) address->dane = dane_facts(*t.dane, t.hostname, converted);
      answer.addresses.push_back(std::move(*address));
    }
    if (answer.addresses.empty()) {
      answer.hard_failure = plan.hard;
      answer.dsn = plan.targets.empty() ? plan.dsn : "4.4.3";
      answer.text = plan.targets.empty() ? plan.text : "no usable address";
    }
    done(std::move(answer));
  };
  resolver_->resolve(hop, std::move(finish), dane);
}

void ShardResolver::watch_socket(int fd, bool readable, bool writable) {
  auto found = by_fd_.find(fd);
  Watch* current = found == by_fd_.end() ? nullptr : found->second;
  if (!readable && !writable) {
    if (current != nullptr) {
      by_fd_.erase(found);
      retire(*current);
    }
    return;
  }
  if (current != nullptr) {
    if (current->readable == readable && current->writable == writable) return;
    if (!current->armed) {  // inside its own completion: re-armed with the new interest after
      current->readable = readable;
      current->writable = writable;
      return;
    }
    by_fd_.erase(found);
    retire(*current);
  }
  auto owned = std::make_unique<Watch>();
  Watch& watch = *owned;
  watch.owner = this;
  watch.handler = &ShardResolver::on_poll;
  watch.fd = fd;
  watch.readable = readable;
  watch.writable = writable;
  watches_.emplace(&watch, std::move(owned));
  by_fd_[fd] = &watch;
  arm(watch);
}

void ShardResolver::arm(Watch& watch) {
  unsigned mask = (watch.readable ? POLLIN : 0u) | (watch.writable ? POLLOUT : 0u);
  io_uring_prep_poll_add(ring_.prepare(&watch), watch.fd, mask);
  watch.armed = true;
}

void ShardResolver::retire(Watch& watch) {
  watch.retired = true;
  if (watch.armed) {
    io_uring_prep_poll_remove(ring_.prepare_untracked(), reinterpret_cast<std::uint64_t>(&watch));
  } else if (!watch.dispatching) {
    watches_.erase(&watch);
  }
}

void ShardResolver::on_poll(Completion& completion, int result, std::uint32_t) {
  Watch& watch = static_cast<Watch&>(completion);
  ShardResolver& self = *watch.owner;
  watch.armed = false;
  if (watch.retired) {
    self.watches_.erase(&watch);
    return;
  }
  // An error or hang-up is reported as readable: c-ares reads, sees it, and closes the socket.
  bool readable = result < 0 || (result & (POLLIN | POLLERR | POLLHUP)) != 0;
  bool writable = result > 0 && (result & POLLOUT) != 0;
  watch.dispatching = true;
  self.channel_->process_socket(watch.fd, readable, writable);
  watch.dispatching = false;
  if (watch.retired) {
    self.watches_.erase(&watch);
    return;
  }
  self.arm(watch);
}

void ShardResolver::arm_timeout(std::optional<std::chrono::milliseconds> after) {
  if (!after) {
    timeout_.cancel();
    return;
  }
  timeout_.arm(timers_, *after, [this] { channel_->process_timeouts(); });
}

}  // namespace ringrelay::engine
