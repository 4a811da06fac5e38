// The one place that turns a recipient's outcome into its result record (what the queue manager,
// the journal and the log get): relay, Postfix's delay breakdown, connection use, TLS and site.
// Records are reported to a ResultSink; formatting them is feed_protocol's and delivery_log's job.
#pragma once

#include <optional>
#include <string>

#include "engine/delivery/connection.hh"
#include "engine/feed/delivery_request.hh"
#include "proto/client_session.hh"

namespace ringrelay::engine {

// A final result for one recipient, with what the log and the queue manager need.
struct ResultRecord {
  RequestPointer request;
  std::size_t recipient = 0;  // index into request->message.recipients
  proto::RecipientResult result;
  std::string relay = "none";        // "host[address]:port"
  std::string site;                  // the MX site, when it is not the next hop itself
  std::string source;                // the egress source it left from; empty: no pool
  double delay = 0;                  // seconds since the queue manager queued it
  double delays[4] = {0, 0, 0, 0};   // before us / in our queue / connection set-up / transmission
  std::size_t connection_use = 0;    // Postfix's conn_use: 1 for a new connection
  TlsOutcome tls;                    // protocol, cipher, verification (empty: plaintext)
  const char* stage_text = nullptr;  // instead of result.stage's name ("restart": see feed_server)
  // Done by the shard that delivered, so the feed's shard does not format per recipient: the log
  // line written and the feed record formatted without its sequence number, which the feed inserts
  // at `seq_offset` (format_unnumbered_result, number_record in feed_protocol).
  std::string unnumbered_record;  // empty: neither done yet (the feed's shard does both)
  std::size_t seq_offset = 0;
};

// Where final results go. It runs on the shard that owns the request (the feed's shard): the
// request's counters are touched there only, even when its recipients went to several shards.
class ResultSink {
 public:
  virtual ~ResultSink() = default;
  virtual void report(ResultRecord record) = 0;
};

// How the recipient was carried: nothing (a local failure), or a connection.
struct Carrier {
  const Connection* connection = nullptr;
  bool fresh = true;                     // the job opened this connection
  std::optional<TlsOutcome> reused_tls;  // a reused connection judged under this job's policy
  Clock::time_point started;             // when the job first left the queue
  std::string site;                      // the site name, "" when it is the next hop's own
  std::string source;                    // the egress source, "" when the request had no pool
};

ResultRecord result_record(const RequestPointer& request, std::size_t recipient,
                           const proto::RecipientResult& result, const Carrier& carrier,
                           Clock::time_point now);

// A result decided without a server (a DNS failure, a dead site, a shutdown).
proto::RecipientResult local_result(std::size_t job_recipient, const std::string& dsn,
                                    const std::string& text, bool hard);

}  // namespace ringrelay::engine
