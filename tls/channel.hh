// One TLS connection as a byte transformer (helio's tls_engine shape): ciphertext moves through
// memory buffers the engine fills from and drains to the socket; plaintext through read/write.
// Calls return ok, want_read (feed more ciphertext) or closed/failed. No sockets, no clocks.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "tls/context.hh"
#include "tls/peer_check.hh"
#include "tls/policy.hh"

struct WOLFSSL;
struct WOLFSSL_SESSION;
struct WOLFSSL_X509_STORE_CTX;

namespace ringrelay::tls {

// A TLS session kept for resumption (shared: the store and connections hold it).
using SessionHandle = std::shared_ptr<WOLFSSL_SESSION>;

// A session with what its full handshake showed of the chain: a resumed handshake sends no
// certificate to check, so the chain result travels with the session.
struct ResumableSession {
  SessionHandle session;  // null: nothing to resume
  bool chain_trusted = false;
  std::string chain_error;
};

class Channel {
 public:
  enum class Status { ok, want_read, closed, failed };

  // Throws ContextError when wolfSSL cannot allocate the connection.
  explicit Channel(const Context& context);
  ~Channel();
  Channel(const Channel&) = delete;
  Channel& operator=(const Channel&) = delete;

  // Client set-up, before the handshake: protocol range, cipher list, SNI (empty: none).
  // False with error() set when wolfSSL refuses them.
  bool configure(const Policy& policy, std::string_view server_name);
  // Offers `session` for resumption; if the server accepts it, the chain result is the
  // session's.
  void resume(const ResumableSession& session);

  Status handshake();
  // Encrypts all of `plaintext` into the outgoing ciphertext.
  Status write(std::string_view plaintext);
  // Decrypts up to `capacity` bytes into `out`; `produced` is how many.
  Status read(char* out, std::size_t capacity, std::size_t& produced);
  // Queues a close_notify alert.
  void close_notify();

  // Ciphertext from the peer; end_of_input() when the peer closed its side.
  void receive(std::string_view ciphertext);
  void end_of_input() { input_ended_ = true; }
  // Ciphertext to send.
  bool has_output() const { return !output_.empty(); }
  std::string take_output();
  // The same without allocating: `buffer` (sent, its bytes no longer needed) is cleared and
  // swapped with the pending ciphertext, so both buffers keep their capacity.
  void swap_output(std::string& buffer);

  const std::string& error() const { return error_; }
  bool handshake_done() const { return handshake_done_; }

  // After the handshake.
  std::string protocol() const;      // "TLSv1.3"
  std::string cipher() const;        // OpenSSL's name: "TLS_AES_128_GCM_SHA256"
  std::string cipher_suite() const;  // wolfSSL's name, as in cipher lists
  int cipher_bits() const;
  bool resumed() const;
  // The session to resume later connections with; null when there is none yet (TLS 1.3 tickets
  // arrive after the handshake: ask after the first read).
  SessionHandle session() const;
  // The same with the chain result (this handshake's, or the resumed session's).
  ResumableSession resumable() const;
  // The server's certificate and chain result; digests with `digest` (md5, sha1, sha256, sha512).
  PeerCertificate peer_certificate(std::string_view digest) const;

 private:
  static int receive_callback(WOLFSSL* ssl, char* buffer, int size, void* self);
  static int send_callback(WOLFSSL* ssl, char* buffer, int size, void* self);
  static int verify_callback(int preverify, WOLFSSL_X509_STORE_CTX* store);
  Status outcome(int result, const char* what);

  WOLFSSL* ssl_ = nullptr;
  std::string input_;
  std::size_t input_offset_ = 0;
  bool input_ended_ = false;
  std::string output_;
  std::string error_;
  bool handshake_done_ = false;
  bool chain_failed_ = false;
  std::string chain_error_;
  ResumableSession offered_;  // what resume() offered
};

}  // namespace ringrelay::tls
