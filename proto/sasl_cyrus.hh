// The AUTH client on Cyrus SASL's client API (sasl_client_new/start/step): mechanisms as the
// installed plugins provide them (PLAIN, LOGIN, CRAM-MD5, DIGEST-MD5, SCRAM-*), Postfix's security
// options mapped onto Cyrus's security properties, and smtp_sasl_mechanism_filter. The only file of
// ringrelay that includes Cyrus's headers; one client per connection, used by one thread.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "proto/auth.hh"

namespace ringrelay::proto {

// What every authenticating connection of one protocol (smtp or lmtp) shares.
struct SaslOptions {
  std::string service = "smtp";  // the Cyrus service name ("lmtp" for LMTP)
  // Postfix's words ("noplaintext, noanonymous"), checked with sasl_security_flags.
  std::string security_options = "noplaintext, noanonymous";
  std::string tls_security_options = "noplaintext, noanonymous";
  std::string tls_verified_security_options = "noplaintext, noanonymous";
  // smtp_sasl_mechanism_filter: upper-case names, "!NAME" to exclude, "*" for any (Postfix's
  // static:all); the first entry that matches decides. Empty: every offered mechanism.
  std::vector<std::string> mechanism_filter;
  bool send_authzid = false;  // send_cyrus_sasl_authzid: the login name as authorization identity
};

struct SaslCredentials {
  std::string user;
  std::string password;
  std::string source;  // the password-table key that gave them ("[smtp.example.com]:587")
};

// What connections authenticated with `credentials` are cached under: the login name and where it
// came from ("relayuser from [smtp.example.com]:587"; table keys have no spaces, so it is
// unambiguous), never the password.
inline std::string sasl_identity(const SaslCredentials& credentials) {
  return credentials.user + " from " + credentials.source;
}

// Loads Cyrus's client plugins once per process, with real mutexes, reading Cyrus's own
// configuration from `config_path` when it is not empty (smtp_sasl_path). Safe to call from any
// thread and more than once; returns "" or what went wrong. The first call's path wins.
std::string init_cyrus_sasl(const std::string& config_path = {});
// The client mechanisms the installed plugins provide ("PLAIN", "SCRAM-SHA-256", ...).
std::vector<std::string> cyrus_client_mechanisms();
// Postfix's security option words as Cyrus flags; nullopt with `error` naming a bad word.
std::optional<unsigned> sasl_security_flags(std::string_view options, std::string& error);

class CyrusSaslClient : public AuthClient {
 public:
  // `options` must outlive the client. `server_host` is the server's name (Cyrus's serverFQDN,
  // used by DIGEST-MD5).
  CyrusSaslClient(const SaslOptions& options, SaslCredentials credentials, std::string server_host);
  ~CyrusSaslClient() override;
  CyrusSaslClient(const CyrusSaslClient&) = delete;
  CyrusSaslClient& operator=(const CyrusSaslClient&) = delete;

  std::vector<std::string> usable(const std::vector<std::string>& offered) const override;
  std::optional<AuthStart> start(const std::vector<std::string>& mechanisms, AuthSecurity security,
                                 std::string& why) override;
  std::optional<std::string> step(std::string_view challenge, std::string& why) override;
  std::string identity() const override;

  const SaslCredentials& credentials() const { return credentials_; }

 private:
  struct Cyrus;  // the sasl_conn_t and its callbacks

  const SaslOptions& options_;
  SaslCredentials credentials_;
  std::string server_host_;
  std::unique_ptr<Cyrus> cyrus_;
};

// What is wrong with a server's DIGEST-MD5 challenge that Cyrus would take but mishandle: a
// directive RFC 2831 allows once (nonce, qop, stale, maxbuf, charset, algorithm, cipher) given
// twice, which libsasl2 2.1.28 keeps the second of and leaks the first (a hostile server could
// make every AUTH leak memory). Empty when there is nothing to refuse; the syntax is Cyrus's to
// judge.
std::string digest_md5_challenge_problem(std::string_view challenge);

// Whether `mechanism` (upper case) passes smtp_sasl_mechanism_filter.
bool mechanism_allowed(const std::vector<std::string>& filter, std::string_view mechanism);

}  // namespace ringrelay::proto
