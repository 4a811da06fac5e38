// Fuzzes the client side of tls::Channel with arbitrary bytes from a "server": the handshake,
// reads and the peer checks must end in a status (want_read, failed, closed), never a crash,
// whatever the bytes; a handshake that completes yields a certificate the checks can judge.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

#include "tls/channel.hh"
#include "tls/context.hh"
#include "tls/peer_check.hh"
#include "tls/policy.hh"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace ringrelay::tls;
  static const auto context = std::make_unique<Context>(Role::client, ContextSettings{});
  static const Policy policy = default_policy(SecurityLevel::may, PolicyDefaults{});
  Channel client(*context);
  if (!client.configure(policy, "mx.example.com")) return 0;
  client.handshake();
  (void)client.take_output();
  // The input arrives in two pieces, as TCP may split it.
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  std::size_t half = bytes.size() / 2;
  for (std::string_view piece : {bytes.substr(0, half), bytes.substr(half)}) {
    client.receive(piece);
    if (!client.handshake_done() && client.handshake() != Channel::Status::ok) continue;
    char buffer[4096];
    std::size_t n = 0;
    while (client.read(buffer, sizeof buffer, n) == Channel::Status::ok) {
    }
  }
  client.end_of_input();
  if (client.handshake_done()) {
    PeerCertificate certificate = client.peer_certificate("sha256");
    (void)judge(default_policy(SecurityLevel::verify, PolicyDefaults{}), certificate,
                {"example.com", "mx.example.com"});
  }
  return 0;
}
