// Reading the SASL settings, checking them at start, and the credentials lookup.
#include "engine/config/sasl_settings.hh"

#include <sys/stat.h>

#include <algorithm>
#include <cstdio>

#include "engine/config/config_values.hh"
#include "proto/ascii.hh"

namespace ringrelay::engine {
namespace {

std::string upper(std::string text) {
  for (char& c : text) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return text;
}

// smtp_sasl_mechanism_filter words as proto::SaslOptions wants them.
std::vector<std::string> mechanism_filter(const Config& c, const std::string& parameter,
                                          std::vector<std::string>& notices) {
  std::vector<std::string> out;
  std::vector<std::string> installed = proto::cyrus_client_mechanisms();
  for (const std::string& word : c.list(parameter)) {
    bool exclude = word.starts_with("!");
    std::string name = proto::ascii_lower(word.substr(exclude ? 1 : 0));
    if (name == "static:all") {
      out.push_back(exclude ? "!*" : "*");
      continue;
    }
    if (name.find(':') != std::string::npos || name.starts_with("/")) {
      throw ConfigError(parameter + " = " + c.value(parameter) + ": \"" + word +
                        "\": lookup tables are not supported in the mechanism filter by "
                        "ringrelay; list mechanism names (\"!name\" excludes, static:all matches "
                        "any)");
    }
    std::string mechanism = upper(name);
    if (std::find(installed.begin(), installed.end(), mechanism) == installed.end()) {
      notices.push_back("warning: " + parameter + ": no installed Cyrus SASL plugin provides " +
                        mechanism + " (install libsasl2-modules or libsasl2-modules-gssapi-mit)");
    }
    out.push_back((exclude ? "!" : "") + mechanism);
  }
  return out;
}

// Postfix's secrets are readable by root only; a password table that others can read leaks them.
void check_permissions(const LookupTable& table, const std::string& parameter,
                       std::vector<std::string>& notices) {
  if (table.path().empty()) return;
  struct stat info {};
  if (::stat(table.path().c_str(), &info) != 0) return;
  if ((info.st_mode & (S_IRGRP | S_IWGRP | S_IROTH | S_IWOTH)) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(info.st_mode & 07777));
    notices.push_back("warning: " + parameter + ": " + table.path() +
                      " holds passwords and is readable by others than its owner (mode " + mode +
                      "); chmod 600 it");
  }
}

}  // namespace

SaslSettings sasl_settings(const Config& c, bool lmtp, std::vector<std::string>& notices) {
  const std::string prefix = lmtp ? "lmtp_" : "smtp_";
  auto name = [&](std::string_view rest) { return prefix + std::string(rest); };
  SaslSettings s;
  s.enable = c.boolean(name("sasl_auth_enable"));
  s.soft_bounce = c.boolean(name("sasl_auth_soft_bounce"));
  s.dummy_mail_auth = c.boolean(name("send_dummy_mail_auth"));
  s.sender_dependent = c.boolean(name("sender_dependent_authentication"));
  s.failure_cache_time = std::chrono::seconds(c.seconds(name("sasl_auth_cache_time")));
  if (!s.enable) return s;

  // Postfix has one delimiter parameter for both protocols.
  std::string delimiter = c.value("smtp_sasl_password_result_delimiter");
  if (delimiter.size() != 1) {
    throw ConfigError("smtp_sasl_password_result_delimiter = " + delimiter +
                      ": expected exactly one character");
  }
  s.delimiter = delimiter[0];
  if (std::string type = c.value(name("sasl_type")); type != "cyrus") {
    throw ConfigError(name("sasl_type") + " = " + type + ": not supported by ringrelay (cyrus)");
  }
  // Cyrus's configuration directory is one per process.
  std::string path = c.value("cyrus_sasl_config_path");
  if (path.empty()) path = c.value(name("sasl_path"));
  if (std::string error = proto::init_cyrus_sasl(path); !error.empty()) {
    throw ConfigError(name("sasl_auth_enable") + ": " + error);
  }

  auto options = std::make_shared<proto::SaslOptions>();
  options->service = lmtp ? "lmtp" : "smtp";
  options->send_authzid = c.boolean("send_cyrus_sasl_authzid");
  options->security_options = c.value(name("sasl_security_options"));
  options->tls_security_options = c.value(name("sasl_tls_security_options"));
  options->tls_verified_security_options = c.value(name("sasl_tls_verified_security_options"));
  for (const char* rest : {"sasl_security_options", "sasl_tls_security_options",
                           "sasl_tls_verified_security_options"}) {
    std::string error;
    if (!proto::sasl_security_flags(c.value(name(rest)), error)) {
      throw ConfigError(name(rest) + " = " + c.value(name(rest)) + ": " + error);
    }
  }
  options->mechanism_filter = mechanism_filter(c, name("sasl_mechanism_filter"), notices);
  s.options = std::move(options);

  if (std::string cache = c.value(name("sasl_auth_cache_name")); !cache.empty()) {
    s.failure_cache = true;
    notices.push_back(name("sasl_auth_cache_name") + " = " + cache +
                      ": ringrelay keeps failed logins in memory (per shard, at most " +
                      "10000 entries, for " + name("sasl_auth_cache_time") +
                      "); the table itself is not opened");
  }

  std::vector<std::string> maps = c.list(name("sasl_password_maps"));
  if (maps.empty()) {
    throw ConfigError("specify a password table via the `" + name("sasl_password_maps") +
                      "' configuration parameter");
  }
  for (const std::string& spec : maps) {
    try {
      s.password_maps.emplace_back(spec);
    } catch (const ConfigError& e) {
      // The message names the file and line; never the values (they hold passwords).
      throw ConfigError(name("sasl_password_maps") + ": " + e.what());
    }
    check_permissions(s.password_maps.back(), name("sasl_password_maps"), notices);
  }
  return s;
}

std::optional<proto::SaslCredentials> SaslSettings::credentials_for(
    std::string_view sender, std::string_view server_host, std::string_view nexthop) const {
  if (!enable) return std::nullopt;
  // A "@domain" form is a partial key: pattern tables see whole keys only (Postfix).
  auto lookup = [&](std::string key,
                    bool partial = false) -> std::optional<proto::SaslCredentials> {
    key = proto::ascii_lower(key);
    for (const LookupTable& table : password_maps) {
      if (partial && !table.has_fixed_keys()) continue;
      if (std::optional<std::string> value = table.find(key)) {
        proto::SaslCredentials credentials;
        auto split = value->find(delimiter);
        credentials.user = value->substr(0, split);
        if (split != std::string::npos) credentials.password = value->substr(split + 1);
        credentials.source = key;
        return credentials;
      }
    }
    return std::nullopt;
  };
  if (sender_dependent && !sender.empty()) {
    if (auto found = lookup(std::string(sender))) return found;
    if (auto at = sender.rfind('@'); at != std::string_view::npos && at + 1 < sender.size()) {
      if (auto found = lookup(std::string(sender.substr(at)), true)) return found;
    }
  }
  if (!server_host.empty()) {
    if (auto found = lookup(std::string(server_host))) return found;
  }
  if (!nexthop.empty()) return lookup(std::string(nexthop));
  return std::nullopt;
}

std::string masked_value(std::string_view name, const std::string& value) {
  if (!name.ends_with("_sasl_password_maps")) return value;
  std::string out;
  for (const std::string& word : split_list(value)) {
    if (!out.empty()) out += ", ";
    if (word.starts_with("inline:")) {
      out += "inline:{(secrets not shown)}";
    } else if (word.starts_with("static:")) {
      out += "static:(secret not shown)";
    } else {
      out += word;
    }
  }
  return out;
}

}  // namespace ringrelay::engine
