// The c-ares channel: options, the socket-state callback forwarded to the loop, and the mapping
// of c-ares statuses and DNS response codes onto Postfix's lookup outcomes and words.
#include "dns/ares_channel.hh"

#include <ares.h>

#include <mutex>
#include <stdexcept>

namespace ringrelay::dns {
namespace {

void library_init_once() {
  static std::once_flag once;
  std::call_once(once, [] {
    int rc = ares_library_init(ARES_LIB_INIT_ALL);
    if (rc != ARES_SUCCESS) {
      throw std::runtime_error(std::string("c-ares initialisation failed: ") + ares_strerror(rc));
    }
  });
}

ares_channel as_channel(void* p) {
  return static_cast<ares_channel>(p);
}

}  // namespace

struct Channel::Pending {
  Channel* channel;
  std::string name;
  RecordType type;
  Callback done;
};

Channel::Channel(EventHooks& hooks, const ChannelOptions& options)
    : hooks_(hooks), dnssec_(options.dnssec) {
  library_init_once();
  ares_options o{};
  int mask = ARES_OPT_SOCK_STATE_CB | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_FLAGS;
  o.sock_state_cb = &Channel::on_socket_state;
  o.sock_state_cb_data = this;
  o.timeout = static_cast<int>(options.timeout.count());
  o.tries = options.tries;
  // No search domains and no appended local domain: names in mail routing are absolute.
  o.flags = ARES_FLAG_NOSEARCH;
  ares_channel channel = nullptr;
  int rc = ares_init_options(&channel, &o, mask);
  if (rc != ARES_SUCCESS) {
    throw std::runtime_error(std::string("c-ares channel: ") + ares_strerror(rc));
  }
  channel_ = channel;
  if (!options.servers.empty()) {
    std::string csv;
    for (const std::string& s : options.servers) csv += (csv.empty() ? "" : ",") + s;
    rc = ares_set_servers_ports_csv(channel, csv.c_str());
    if (rc != ARES_SUCCESS) {
      ares_destroy(channel);
      channel_ = nullptr;
      throw std::runtime_error("bad dns_servers \"" + csv + "\": " + ares_strerror(rc));
    }
  }
}

Channel::~Channel() {
  if (channel_ == nullptr) return;
  destroying_ = true;
  ares_destroy(as_channel(channel_));
}

void Channel::query(const std::string& name, RecordType type, Callback done) {
  auto* pending = new Pending{this, name, type, std::move(done)};
  ++pending_;
  if (!dnssec_) {
    ares_query(as_channel(channel_), name.c_str(), 1 /* class IN */, static_cast<int>(type),
               &Channel::on_answer, pending);
    rearm_timeout();
    return;
  }
  // c-ares never asks for validation: build the query, set AD (RFC 6840 5.7) and, in the EDNS0
  // OPT record that ends it, DO (RFC 3225), as Postfix's RES_USE_DNSSEC does; then send it raw.
  unsigned char* buffer = nullptr;
  int length = 0;
  int rc = ares_create_query(name.c_str(), 1 /* class IN */, static_cast<int>(type), 0, 1, &buffer,
                             &length, 1232 /* EDNS0 payload size */);
  constexpr int kOptLength = 11;  // root name, type, class, TTL, RDLENGTH
  if (rc != ARES_SUCCESS || length < 12 + kOptLength || buffer[length - 10] != 0 ||
      buffer[length - 9] != 41 /* OPT */) {
    if (buffer != nullptr) ares_free_string(buffer);
    on_answer(pending, rc != ARES_SUCCESS ? rc : ARES_EBADQUERY, 0, nullptr, 0);
    return;
  }
  buffer[3] |= 0x20;           // AD
  buffer[length - 4] |= 0x80;  // DO, the top bit of the OPT record's flags
  ares_send(as_channel(channel_), buffer, length, &Channel::on_answer, pending);
  ares_free_string(buffer);
  rearm_timeout();
}

void Channel::on_socket_state(void* self, int fd, int readable, int writable) {
  static_cast<Channel*>(self)->hooks_.watch_socket(fd, readable != 0, writable != 0);
}

void Channel::on_answer(void* arg, int status, int, unsigned char* message, int length) {
  std::unique_ptr<Pending> pending(static_cast<Pending*>(arg));
  Channel& self = *pending->channel;
  --self.pending_;
  if (self.destroying_) return;
  QueryOutcome outcome;
  switch (status) {
    case ARES_SUCCESS:
    case ARES_ENODATA: {
      std::string error;
      auto answer = message != nullptr ? parse_answer({message, static_cast<std::size_t>(length)},
                                                      pending->name, pending->type, &error)
                                       : std::nullopt;
      if (!answer) {
        // As Postfix's dns_lookup(): a reply we cannot read is a reason to try again later.
        outcome.status = LookupStatus::try_again;
        outcome.reason =
            "malformed or truncated name server reply" + (error.empty() ? "" : " (" + error + ")");
        break;
      }
      // A raw send (dnssec) reports every response as a success: its code decides here.
      if (answer->rcode == 3) {
        outcome.status = LookupStatus::not_found;
        outcome.reason = "Host not found";
        break;
      }
      if (answer->rcode != 0) {
        outcome.status = answer->rcode == 2 || answer->rcode == 5 ? LookupStatus::try_again
                                                                  : LookupStatus::failed;
        outcome.reason =
            answer->rcode == 2 || answer->rcode == 5
                ? "Host not found, try again"
                : "Non-recoverable error (response code " + std::to_string(answer->rcode) + ")";
        break;
      }
      outcome.answer = std::move(*answer);
      bool have = !outcome.answer.records.empty();
      bool alias_only = outcome.answer.canonical_name != normalize_name(pending->name);
      outcome.status = have || alias_only ? LookupStatus::ok : LookupStatus::no_data;
      if (!have && !alias_only) outcome.reason = "Host found but no data record of requested type";
      break;
    }
    case ARES_ENOTFOUND:
      outcome.status = LookupStatus::not_found;
      outcome.reason = "Host not found";
      break;
    case ARES_ESERVFAIL:
    case ARES_EREFUSED:
    case ARES_ETIMEOUT:
    case ARES_ECONNREFUSED:
    case ARES_ENOMEM:
    case ARES_ECANCELLED:
    case ARES_EDESTRUCTION:
      outcome.status = LookupStatus::try_again;
      outcome.reason = "Host not found, try again";
      break;
    case ARES_EBADRESP:
    case ARES_EOF:
      outcome.status = LookupStatus::try_again;
      outcome.reason = "malformed or truncated name server reply";
      break;
    case ARES_EBADNAME:
      outcome.status = LookupStatus::not_found;
      outcome.reason = "Host not found (malformed name)";
      break;
    default:  // FORMERR, NOTIMP: Postfix's "Non-recoverable error" (NO_RECOVERY)
      outcome.status = LookupStatus::failed;
      outcome.reason = std::string("Non-recoverable error (") + ares_strerror(status) + ")";
      break;
  }
  pending->done(std::move(outcome));
}

void Channel::process_socket(int fd, bool readable, bool writable) {
  ares_process_fd(as_channel(channel_), readable ? fd : ARES_SOCKET_BAD,
                  writable ? fd : ARES_SOCKET_BAD);
  rearm_timeout();
}

void Channel::process_timeouts() {
  ares_process_fd(as_channel(channel_), ARES_SOCKET_BAD, ARES_SOCKET_BAD);
  rearm_timeout();
}

void Channel::rearm_timeout() {
  timeval limit{3600, 0}, room{};
  timeval* next = ares_timeout(as_channel(channel_), &limit, &room);
  if (pending_ == 0 || next == nullptr) {
    hooks_.arm_timeout(std::nullopt);
    return;
  }
  auto ms = std::chrono::milliseconds(next->tv_sec * 1000 + (next->tv_usec + 999) / 1000);
  hooks_.arm_timeout(ms);
}

}  // namespace ringrelay::dns
