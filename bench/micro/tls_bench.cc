// TLS costs on the client side, with two tls::Channels in memory (no sockets): CPU per full and
// per resumed handshake (only the client's calls are timed, by thread CPU time), and the cost of
// encrypting a 10 KiB message into records against copying it (the plaintext path's floor).
// The server certificate is ECDSA P-256 from tests/tls/make-test-pki.sh.
#include <benchmark/benchmark.h>
#include <time.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>

#include "tests/tls/test_pki.hh"
#include "tls/channel.hh"
#include "tls/context.hh"
#include "tls/library.hh"
#include "tls/policy.hh"

namespace {

using namespace ringrelay::tls;

std::string pki_dir() {
  return ringrelay::testing::test_pki_dir();
}

struct Pair {
  std::unique_ptr<Context> client, server;
  Policy policy = default_policy(SecurityLevel::encrypt, PolicyDefaults{});
  Pair() {
    ContextSettings c;
    c.ca_file = pki_dir() + "/ca.pem";
    ContextSettings s;
    s.cert_file = pki_dir() + "/good.pem";
    s.key_file = pki_dir() + "/good.key";
    client = std::make_unique<Context>(Role::client, c);
    server = std::make_unique<Context>(Role::server, s);
  }
};

double thread_cpu_seconds() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) * 1e-9;
}

// Runs a handshake; returns the client's CPU seconds, or -1 when it failed.
double handshake(Channel& client, Channel& server) {
  double client_cpu = 0;
  for (int round = 0; round < 20; ++round) {
    double t0 = thread_cpu_seconds();
    client.handshake();
    std::string to_server = client.take_output();
    client_cpu += thread_cpu_seconds() - t0;
    server.receive(to_server);
    server.handshake();
    std::string to_client = server.take_output();
    t0 = thread_cpu_seconds();
    client.receive(to_client);
    client_cpu += thread_cpu_seconds() - t0;
    if (client.handshake_done() && server.handshake_done()) return client_cpu;
  }
  return -1;
}

// After the handshake, one exchange so that the TLS 1.3 ticket reaches the client.
ResumableSession exchange_for_ticket(Channel& client, Channel& server) {
  server.write("220 ready\r\n");
  client.receive(server.take_output());
  char buffer[256];
  std::size_t n = 0;
  while (client.read(buffer, sizeof buffer, n) == Channel::Status::ok) {
  }
  return client.resumable();
}

void BM_ClientFullHandshake(benchmark::State& state) {
  Pair pair;
  for (auto _ : state) {
    Channel client(*pair.client), server(*pair.server);
    client.configure(pair.policy, "mx.test.example");
    double cpu = handshake(client, server);
    if (cpu < 0) state.SkipWithError("handshake failed");
    state.SetIterationTime(cpu);
  }
  state.SetLabel(library_description());
}
BENCHMARK(BM_ClientFullHandshake)->UseManualTime()->Unit(benchmark::kMicrosecond);

void BM_ClientResumedHandshake(benchmark::State& state) {
  Pair pair;
  ResumableSession session;
  {
    Channel client(*pair.client), server(*pair.server);
    client.configure(pair.policy, "mx.test.example");
    handshake(client, server);
    session = exchange_for_ticket(client, server);
  }
  for (auto _ : state) {
    Channel client(*pair.client), server(*pair.server);
    client.configure(pair.policy, "mx.test.example");
    client.resume(session);
    double cpu = handshake(client, server);
    if (cpu < 0 || !client.resumed()) state.SkipWithError("not resumed");
    state.SetIterationTime(cpu);
  }
  state.SetLabel(library_description());
}
BENCHMARK(BM_ClientResumedHandshake)->UseManualTime()->Unit(benchmark::kMicrosecond);

// One 10 KiB message into TLS records, against the same bytes copied (what plaintext costs us).
void BM_Encrypt10kMessage(benchmark::State& state) {
  Pair pair;
  Channel client(*pair.client), server(*pair.server);
  client.configure(pair.policy, "");
  handshake(client, server);
  std::string message(10 * 1024, 'x');
  std::string sent;
  for (auto _ : state) {
    for (std::size_t offset = 0; offset < message.size(); offset += 16384)
      client.write(std::string_view(message).substr(offset, 16384));
    client.swap_output(sent);  // as the engine does: buffers keep their capacity
    benchmark::DoNotOptimize(sent.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * message.size()));
}
BENCHMARK(BM_Encrypt10kMessage);

void BM_Copy10kMessage(benchmark::State& state) {
  std::string message(10 * 1024, 'x');
  for (auto _ : state) {
    std::string copy(message);
    benchmark::DoNotOptimize(copy.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * message.size()));
}
BENCHMARK(BM_Copy10kMessage);

}  // namespace
