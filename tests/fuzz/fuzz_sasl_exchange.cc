// Fuzzes the server's side of an AUTH exchange against the real Cyrus client: the first byte picks
// the mechanism the server offers (PLAIN, LOGIN, CRAM-MD5, DIGEST-MD5, SCRAM-SHA-1, SCRAM-SHA-256)
// and whether a failed login is remembered; the rest are the server's replies, one per line, from
// the AUTH command on (334 challenges with arbitrary base64 or not, 235, 535, 421, garbage).
// Checks: no crash or hang, exactly one result for each recipient, the session ends closed, and
// the password never appears in a result unless the server itself sent it.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "proto/client_session.hh"
#include "proto/sasl_cyrus.hh"

namespace {

using namespace ringrelay::proto;

constexpr const char* kMechanisms[] = {"PLAIN",      "LOGIN",       "CRAM-MD5",
                                       "DIGEST-MD5", "SCRAM-SHA-1", "SCRAM-SHA-256"};
constexpr std::string_view kPassword = "pw-5ecret-never-logged";

class FuzzAuthClient : public CyrusSaslClient {
 public:
  FuzzAuthClient(const SaslOptions& options, bool remembered)
      : CyrusSaslClient(options, {"user", std::string(kPassword), "[relay.example]"},
                        "relay.example") {
    if (remembered) remembered_ = RememberedFailure{"5.7.8", "535 5.7.8 no"};
  }
  std::optional<RememberedFailure> remembered_failure() override { return remembered_; }
  void remember_failure(const RememberedFailure& failure) override { remembered_ = failure; }

 private:
  std::optional<RememberedFailure> remembered_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  SaslOptions options{.security_options = "noanonymous"};
  FuzzAuthClient auth(options, (data[0] & 0x80) != 0);
  SessionSettings settings;
  settings.auth = true;
  ClientSession session(settings, "relay.example[192.0.2.1]", &auth);
  Message message;
  message.sender = "s@example.org";
  message.recipients = {{"a@example.com", "", ""}, {"b@example.com", "", ""}};
  std::string body = "Subject: x\n\nbody\n";
  message.body = {body};
  session.start_transaction(message, true);
  session.on_connected();
  std::vector<int> results(message.recipients.size(), 0);
  std::string_view whole(reinterpret_cast<const char*>(data), size);
  bool server_sent_password = whole.find(kPassword) != std::string_view::npos;
  auto drain = [&] {
    for (auto& action : session.take_actions()) {
      if (auto* r = std::get_if<RecipientResult>(&action)) {
        if (r->recipient >= results.size() || ++results[r->recipient] > 1) std::abort();
        if (!server_sent_password && r->text.find(kPassword) != std::string::npos) std::abort();
      }
    }
  };
  std::string mechanism = kMechanisms[(data[0] & 0x7f) % 6];
  session.on_received("220 relay.example ESMTP\r\n");
  session.on_received("250-relay.example\r\n250 AUTH " + mechanism + "\r\n");
  drain();
  std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);
  while (!input.empty() && !session.closed()) {
    std::size_t end = input.find('\n');
    std::string line(input.substr(0, end));
    input = end == std::string_view::npos ? std::string_view{} : input.substr(end + 1);
    session.on_received(line + "\r\n");
    drain();
  }
  session.on_connection_lost();
  drain();
  if (!session.closed()) std::abort();
  for (int count : results) {
    if (count != 1) std::abort();
  }
  return 0;
}
