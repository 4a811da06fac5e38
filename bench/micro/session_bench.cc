// Command encoding and whole transactions through the sans-IO session, in memory: what the
// protocol core costs per message before any socket is involved.
#include <benchmark/benchmark.h>

#include <string>

#include "proto/client_session.hh"
#include "proto/envelope.hh"

namespace {

using namespace ringrelay::proto;

Message make_message(int recipients, const std::string& body) {
  Message m;
  m.sender = "bounces+12345@mailer.example.org";
  for (int i = 0; i < recipients; ++i) {
    m.recipients.push_back({"user" + std::to_string(i) + "@example.com",
                            "rfc822;user" + std::to_string(i) + "@example.com", "FAILURE"});
  }
  m.body = {body};
  m.envid = "QM0001";
  return m;
}

void BM_EncodeEnvelope(benchmark::State& state) {
  Message m = make_message(static_cast<int>(state.range(0)), "x");
  Capabilities caps;
  caps.pipelining = caps.size = caps.dsn = caps.eight_bit_mime = true;
  std::size_t bytes = 0;
  for (auto _ : state) {
    std::string mail = format_mail_from(m, caps, true, {});
    bytes += mail.size();
    for (const auto& r : m.recipients) bytes += format_rcpt_to(r, caps, true).size();
    benchmark::DoNotOptimize(mail);
  }
  state.SetItemsProcessed(state.iterations() * (1 + state.range(0)));  // commands
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
}
BENCHMARK(BM_EncodeEnvelope)->Arg(1)->Arg(50);

// One pipelined transaction on an established connection, as on a cached connection:
// MAIL + RCPTs + DATA in one write, replies in one read, body, end-of-data reply.
void BM_PipelinedTransaction(benchmark::State& state) {
  int recipients = static_cast<int>(state.range(0));
  std::string body(1024, 'x');
  for (std::size_t i = 70; i < body.size(); i += 72) body[i] = '\n';
  Message m = make_message(recipients, body);
  std::string replies = "250 2.1.0 Ok\r\n";
  for (int i = 0; i < recipients; ++i) replies += "250 2.1.5 Ok\r\n";
  replies += "354 End data with <CR><LF>.<CR><LF>\r\n";
  const std::string done = "250 2.0.0 Ok: queued as 4XyZ\r\n";

  SessionSettings settings;
  ClientSession session(settings, "mx.example.com[192.0.2.1]");
  session.on_connected();
  session.on_received("220 mx.example.com ESMTP\r\n");
  session.on_received("250-mx.example.com\r\n250-PIPELINING\r\n250-SIZE 0\r\n250 8BITMIME\r\n");
  session.take_actions();
  std::size_t written = 0;
  for (auto _ : state) {
    session.start_transaction(m, true);
    session.on_received(replies);
    session.on_written();
    session.on_received(done);
    for (auto& action : session.take_actions()) {
      if (auto* w = std::get_if<WriteAction>(&action)) written += w->bytes.size();
    }
  }
  if (!session.idle()) state.SkipWithError("session did not return to idle");
  state.SetItemsProcessed(state.iterations());  // messages
  state.SetBytesProcessed(static_cast<int64_t>(written));
}
BENCHMARK(BM_PipelinedTransaction)->Arg(1)->Arg(50);

}  // namespace
