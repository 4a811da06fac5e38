// The SASL part of the engine's settings (Postfix's smtp_sasl_* and lmtp_sasl_* parameters): the
// password tables, where credentials are looked up (credentials_for is the one lookup), the
// options every Cyrus client of the protocol shares, soft bounce and the auth-failure cache.
// Read once by engine_settings() and again on SIGHUP, so a changed password table takes effect on
// reload.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/config/config.hh"
#include "engine/config/lookup_table.hh"
#include "proto/sasl_cyrus.hh"

namespace ringrelay::engine {

struct SaslSettings {
  bool enable = false;                                  // smtp_sasl_auth_enable
  std::vector<LookupTable> password_maps;               // smtp_sasl_password_maps, in order
  char delimiter = ':';                                 // smtp_sasl_password_result_delimiter
  bool sender_dependent = false;                        // smtp_sender_dependent_authentication
  bool soft_bounce = true;                              // smtp_sasl_auth_soft_bounce
  bool dummy_mail_auth = false;                         // smtp_send_dummy_mail_auth
  bool failure_cache = false;                           // smtp_sasl_auth_cache_name is set
  std::chrono::seconds failure_cache_time{90 * 86400};  // smtp_sasl_auth_cache_time
  // Service name, security options and mechanism filter; shared with every client made under
  // these settings, which may outlive a reload.
  std::shared_ptr<const proto::SaslOptions> options = std::make_shared<proto::SaslOptions>();

  // Postfix's smtp_sasl_passwd_lookup: with sender-dependent authentication the sender's full
  // address, then "@domain"; then the server's host name; then the next hop as written
  // ("[smtp.example.com]:587", "example.com"). Each key is tried in every table in order before
  // the next key. The value is "user:password" (split at the first delimiter).
  std::optional<proto::SaslCredentials> credentials_for(std::string_view sender,
                                                        std::string_view server_host,
                                                        std::string_view nexthop) const;
};

// Throws ConfigError naming the parameter at fault: enabled without a password table, a table
// that cannot be read, a security option or mechanism filter entry Cyrus cannot honour, a SASL
// type other than cyrus. `notices` collects start-up warnings (tables readable by others,
// indexed tables read as source text).
SaslSettings sasl_settings(const Config& config, bool lmtp, std::vector<std::string>& notices);

// `value` of parameter `name` as `ringrelay config` prints it: the secrets in inline: and
// static: password tables masked.
std::string masked_value(std::string_view name, const std::string& value);

}  // namespace ringrelay::engine
