// Fuzzes a whole client session: arbitrary server bytes cut into reads, mixed with engine events
// (timer fired, TLS ready or failed, bytes written, another transaction, QUIT, connection lost).
// Checks: no crash or hang, every recipient of every transaction gets exactly one result, and the
// session ends closed once the connection is lost.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "proto/client_session.hh"
#include "proto/sasl_cyrus.hh"

namespace {

using namespace ringrelay::proto;

struct Tally {
  std::vector<int> results;  // per recipient of the current transaction
  int transactions_started = 0;
  int transactions_done = 0;

  void check_complete() {
    for (int count : results) {
      if (count != 1) std::abort();
    }
  }
};

void drain(ClientSession& session, Tally& tally) {
  for (auto& action : session.take_actions()) {
    if (auto* r = std::get_if<RecipientResult>(&action)) {
      if (r->recipient >= tally.results.size()) std::abort();
      ++tally.results[r->recipient];
      if (tally.results[r->recipient] > 1) std::abort();
    } else if (std::holds_alternative<TransactionDone>(action)) {
      ++tally.transactions_done;
      tally.check_complete();
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  SessionSettings settings;
  std::uint8_t flags = data[0];
  settings.lmtp = flags & 1;
  settings.tls = (flags & 2) ? TlsMode::may : ((flags & 4) ? TlsMode::required : TlsMode::none);
  settings.use_chunking = flags & 8;
  settings.skip_quit_response = flags & 16;
  settings.pipeline_command_limit = 1 + (flags >> 5);
  settings.bdat_chunk_size = 7;
  settings.line_length_limit = (flags & 32) ? 12 : 998;
  SaslOptions sasl{.security_options = "noanonymous"};
  CyrusSaslClient auth(sasl, {"user", "password", "[mx.example.com]"}, "mx.example.com");
  settings.auth = flags & 64;

  Message message;
  message.sender = "sender@example.org";
  message.recipients = {{"a@example.com", "rfc822;a@example.com", "SUCCESS"},
                        {"b@example.com", "", ""},
                        {"c@example.com", "", "NEVER"}};
  std::string body = "Subject: x\n\n.dot\nline\r\nlast line without newline";
  message.body = {body};
  message.smtputf8 = flags & 128;

  ClientSession session(settings, "mx.example.com[192.0.2.1]", &auth);
  Tally tally;
  tally.results.assign(message.recipients.size(), 0);
  session.start_transaction(message, (flags & 2) != 0);
  ++tally.transactions_started;
  session.on_connected();
  drain(session, tally);

  // The rest: reads separated by 0xFF; a read that starts with 0xFE is an event.
  std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);
  while (!input.empty() && !session.closed()) {
    std::size_t end = input.find('\xff');
    std::string_view piece = input.substr(0, end);
    input = end == std::string_view::npos ? std::string_view{} : input.substr(end + 1);
    if (!piece.empty() && piece[0] == '\xfe') {
      switch (piece.size() > 1 ? piece[1] % 7 : 0) {
        case 0:
          session.on_timeout();
          break;
        case 1:
          session.on_tls_ready();
          break;
        case 2:
          session.on_tls_failed("fuzz");
          break;
        case 3:
          session.on_written();
          break;
        case 4:
          if (session.idle()) {
            tally.check_complete();
            tally.results.assign(message.recipients.size(), 0);
            session.start_transaction(message, true);
            ++tally.transactions_started;
          }
          break;
        case 5:
          session.quit();
          break;
        case 6:
          session.on_connection_lost();
          break;
      }
    } else {
      session.on_received(piece);
    }
    drain(session, tally);
  }
  session.on_connection_lost();
  drain(session, tally);
  if (!session.closed()) std::abort();
  if (tally.transactions_done != tally.transactions_started) std::abort();
  tally.check_complete();
  return 0;
}
