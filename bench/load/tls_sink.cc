// A fast SMTP sink with STARTTLS, for the TLS load benchmark only (smtp-sink has no TLS, and a
// real smtpd would be the bottleneck): one epoll thread, PIPELINING, DATA, and TLS through our own
// tls::Channel in the server role. Accepts and discards everything; prints its count at exit.
//   ringrelay_tls_sink ADDRESS PORT CERT KEY
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <unordered_map>

#include "tls/channel.hh"
#include "tls/context.hh"

namespace {

volatile sig_atomic_t stop = 0;
unsigned long messages = 0;

struct Client {
  int fd = -1;
  std::unique_ptr<ringrelay::tls::Channel> channel;  // after STARTTLS
  std::string lines;                                 // plaintext not yet handled
  std::string out;                                   // bytes for the socket
  bool in_data = false;
  bool closing = false;
};

void reply(Client& c, std::string_view text) {
  if (c.channel) {
    c.channel->write(text);
    c.out += c.channel->take_output();
  } else {
    c.out += text;
  }
}

// Handles complete lines; returns false when the client is to be closed.
bool handle_lines(Client& c, const ringrelay::tls::Context& context) {
  std::size_t start = 0;
  std::string batch;  // pipelined replies go out together
  for (;;) {
    std::size_t end = c.lines.find("\r\n", start);
    if (end == std::string::npos) break;
    std::string_view line(c.lines.data() + start, end - start);
    start = end + 2;
    if (c.in_data) {
      if (line == ".") {
        c.in_data = false;
        ++messages;
        batch += "250 2.0.0 queued\r\n";
      }
      continue;
    }
    std::string verb(line.substr(0, 4));
    for (char& ch : verb) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    if (verb == "EHLO" || verb == "HELO") {
      batch += "250-sink.bench\r\n250-PIPELINING\r\n250-8BITMIME\r\n";
      if (!c.channel) batch += "250-STARTTLS\r\n";
      batch += "250 ENHANCEDSTATUSCODES\r\n";
    } else if (verb == "STAR" && !c.channel) {
      reply(c, batch + "220 2.0.0 go ahead\r\n");
      batch.clear();
      c.channel = std::make_unique<ringrelay::tls::Channel>(context);
      // Whatever followed STARTTLS is already ciphertext.
      std::string rest = c.lines.substr(start);
      c.lines.clear();
      if (!rest.empty()) c.channel->receive(rest);
      return true;
    } else if (verb == "DATA") {
      c.in_data = true;
      batch += "354 go ahead\r\n";
    } else if (verb == "QUIT") {
      reply(c, batch + "221 2.0.0 bye\r\n");
      c.lines.clear();
      c.closing = true;
      return true;
    } else {
      batch += "250 2.0.0 ok\r\n";  // MAIL, RCPT, RSET, NOOP
    }
  }
  c.lines.erase(0, start);
  if (!batch.empty()) reply(c, batch);
  return true;
}

bool pump_tls(Client& c, const ringrelay::tls::Context& context) {
  using Status = ringrelay::tls::Channel::Status;
  if (!c.channel->handshake_done()) {
    Status s = c.channel->handshake();
    c.out += c.channel->take_output();
    if (s == Status::want_read) return true;
    if (s != Status::ok) return false;
  }
  char buffer[16384];
  for (;;) {
    std::size_t n = 0;
    Status s = c.channel->read(buffer, sizeof buffer, n);
    if (s == Status::want_read) break;
    if (s != Status::ok) return false;
    c.lines.append(buffer, n);
  }
  c.out += c.channel->take_output();
  return handle_lines(c, context);
}

bool flush(Client& c) {
  while (!c.out.empty()) {
    ssize_t n = ::send(c.fd, c.out.data(), c.out.size(), MSG_NOSIGNAL);
    if (n < 0) return errno == EAGAIN;
    c.out.erase(0, static_cast<std::size_t>(n));
  }
  return !c.closing;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: %s ADDRESS PORT CERT KEY\n", argv[0]);
    return 64;
  }
  ringrelay::tls::ContextSettings settings;
  settings.cert_file = argv[3];
  settings.key_file = argv[4];
  ringrelay::tls::Context context(ringrelay::tls::Role::server, settings);
  signal(SIGTERM, [](int) { stop = 1; });
  signal(SIGINT, [](int) { stop = 1; });

  int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  ::setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(std::atoi(argv[2])));
  ::inet_pton(AF_INET, argv[1], &address.sin_addr);
  if (::bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      ::listen(listener, 1024) != 0) {
    std::perror("listen");
    return 71;
  }
  int epoll = ::epoll_create1(EPOLL_CLOEXEC);
  epoll_event event{EPOLLIN, {.fd = listener}};
  ::epoll_ctl(epoll, EPOLL_CTL_ADD, listener, &event);
  std::unordered_map<int, Client> clients;
  epoll_event events[256];
  char buffer[65536];
  while (!stop) {
    int ready = ::epoll_wait(epoll, events, 256, 200);
    for (int i = 0; i < ready; ++i) {
      int fd = events[i].data.fd;
      if (fd == listener) {
        for (;;) {
          int client = ::accept4(listener, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
          if (client < 0) break;
          ::setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          epoll_event e{EPOLLIN | EPOLLOUT | EPOLLET, {.fd = client}};
          ::epoll_ctl(epoll, EPOLL_CTL_ADD, client, &e);
          Client& c = clients[client];
          c.fd = client;
          c.out = "220 sink.bench ESMTP\r\n";
          flush(c);
        }
        continue;
      }
      Client& c = clients[fd];
      bool alive = true;
      if (events[i].events & EPOLLIN) {
        for (;;) {
          ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
          if (n == 0 || (n < 0 && errno != EAGAIN)) {
            alive = false;
            break;
          }
          if (n < 0) break;
          if (c.channel) {
            c.channel->receive(std::string_view(buffer, static_cast<std::size_t>(n)));
            alive = pump_tls(c, context);
          } else {
            c.lines.append(buffer, static_cast<std::size_t>(n));
            alive = handle_lines(c, context);
            if (alive && c.channel) alive = pump_tls(c, context);
          }
          if (!alive) break;
        }
      }
      if (alive) alive = flush(c);
      if (!alive) {
        ::close(fd);
        clients.erase(fd);
      }
    }
  }
  std::printf("%lu\n", messages);
  return 0;
}
