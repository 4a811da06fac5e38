// SMTP AUTH (RFC 4954) as seen by the protocol session: base64 (RFC 4648) and the interface of the
// client that chooses a mechanism and answers challenges. Cyrus SASL implements it
// (proto/sasl_cyrus.hh); the session (client_session) drives the exchange.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ringrelay::proto {

std::string base64_encode(std::string_view bytes);
// nullopt when `text` is not valid base64.
std::optional<std::string> base64_decode(std::string_view text);

// How the connection an AUTH exchange runs over is protected; it picks which of Postfix's three
// sets of SASL security options applies (smtp_sasl_security_options,
// smtp_sasl_tls_security_options, smtp_sasl_tls_verified_security_options).
enum class AuthSecurity { plaintext, tls, tls_verified };

struct AuthStart {
  std::string mechanism;                        // "PLAIN"
  std::optional<std::string> initial_response;  // raw bytes; nullopt: the mechanism has none
};

// A server reply remembered from an earlier failed login with the same credentials.
struct RememberedFailure {
  std::string dsn;   // "5.7.8"
  std::string text;  // "535 5.7.8 Error: authentication failed: ..."
};

// The client side of one AUTH exchange. The session does the base64, the 334/235/5xx handling and
// the words of every failure; the client chooses a mechanism and computes responses (Cyrus SASL:
// proto/sasl_cyrus.hh). One client serves one connection.
class AuthClient {
 public:
  virtual ~AuthClient() = default;
  // The offered mechanisms (upper case) that smtp_sasl_mechanism_filter lets through.
  virtual std::vector<std::string> usable(const std::vector<std::string>& offered) const = 0;
  // Begins an exchange with one of `mechanisms`; nullopt with `why` set when none can be used
  // under `security` ("no mechanism available").
  virtual std::optional<AuthStart> start(const std::vector<std::string>& mechanisms,
                                         AuthSecurity security, std::string& why) = 0;
  // The response to a decoded server challenge; nullopt with `why` set when the mechanism fails.
  virtual std::optional<std::string> step(std::string_view challenge, std::string& why) = 0;
  // The identity cached connections are keyed by (login name and where it was found). Never
  // the password.
  virtual std::string identity() const = 0;
  // A 535 the server gave these very credentials not long ago (smtp_sasl_auth_cache_name): the
  // session fails at once instead of trying again. `remember_failure` records one.
  virtual std::optional<RememberedFailure> remembered_failure() { return std::nullopt; }
  virtual void remember_failure(const RememberedFailure& failure) { (void)failure; }
};

}  // namespace ringrelay::proto
