// Result records: relay, delays, connection use, TLS outcome.
#include "engine/delivery/delivery_results.hh"

#include <algorithm>

namespace ringrelay::engine {
namespace {

double seconds_between(Clock::time_point from, Clock::time_point to) {
  if (from == Clock::time_point{} || to < from) return 0;
  return std::chrono::duration<double>(to - from).count();
}

}  // namespace

ResultRecord result_record(const RequestPointer& request, std::size_t recipient,
                           const proto::RecipientResult& result, const Carrier& carrier,
                           Clock::time_point now) {
  ResultRecord record;
  record.request = request;
  record.recipient = recipient;
  record.result = result;
  record.site = carrier.site;
  record.source = carrier.source;
  record.delays[0] = request->queued_seconds;
  record.delays[1] = seconds_between(request->received, carrier.started);
  if (carrier.connection != nullptr) {
    const Connection& c = *carrier.connection;
    if (result.stage != proto::Stage::connect) record.relay = c.server().name_address_port();
    Clock::time_point setup_done =
        c.handshake_done_at() != Clock::time_point{} ? c.handshake_done_at() : now;
    record.delays[2] = carrier.fresh ? seconds_between(c.created(), setup_done) : 0;
    record.delays[3] = seconds_between(std::max(carrier.started, setup_done), now);
    record.connection_use = result.connection_use;
    record.tls = !carrier.fresh && carrier.reused_tls ? *carrier.reused_tls : c.tls_outcome();
  }
  record.delay = request->queued_seconds + seconds_between(request->received, now);
  return record;
}

proto::RecipientResult local_result(std::size_t job_recipient, const std::string& dsn,
                                    const std::string& text, bool hard) {
  proto::RecipientResult r;
  r.recipient = job_recipient;
  r.status = hard ? proto::DeliveryStatus::bounced : proto::DeliveryStatus::deferred;
  r.dsn = dsn.empty() ? (hard ? "5.0.0" : "4.0.0") : dsn;
  r.text = text;
  r.stage = proto::Stage::connect;
  return r;
}

}  // namespace ringrelay::engine
