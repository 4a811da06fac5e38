// SMTP AUTH (RFC 4954) as seen by the protocol session: a mechanism turns server challenges into
// client responses. The session does the base64 and the 334/235/5xx handling; Cyrus SASL plugs in
// behind AuthClient (proto/sasl_cyrus.*); PLAIN and LOGIN are here for servers and tests.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ringrelay::proto {

std::string base64_encode(std::string_view bytes);
// nullopt when `text` is not valid base64.
std::optional<std::string> base64_decode(std::string_view text);

class AuthMechanism {
 public:
  virtual ~AuthMechanism() = default;
  virtual std::string_view name() const = 0;  // "PLAIN"
  // The initial response to send with the AUTH command, if the mechanism has one.
  virtual std::optional<std::string> initial_response() = 0;
  // The response to a decoded challenge; nullopt cancels the exchange ("*").
  virtual std::optional<std::string> respond(std::string_view challenge) = 0;
};

class AuthClient {
 public:
  virtual ~AuthClient() = default;
  // A mechanism among those the server offers (upper case), or nullptr with `why` set.
  virtual std::unique_ptr<AuthMechanism> choose(const std::vector<std::string>& offered,
                                                std::string& why) = 0;
  // The identity cached connections are keyed by (the user name).
  virtual std::string identity() const = 0;
};

// A username/password client that offers PLAIN, then LOGIN.
class PasswordAuthClient : public AuthClient {
 public:
  PasswordAuthClient(std::string user, std::string password)
      : user_(std::move(user)), password_(std::move(password)) {}
  std::unique_ptr<AuthMechanism> choose(const std::vector<std::string>& offered,
                                        std::string& why) override;
  std::string identity() const override { return user_; }

 private:
  std::string user_, password_;
};

}  // namespace ringrelay::proto
