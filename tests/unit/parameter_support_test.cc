// The rule for main.cf: every known parameter is read by the code that acts on it, or ignored with
// a reason, or refused; never accepted and dropped. The engine's settings are read from a main.cf
// that turns on every optional part, and the names it asked for are compared with the table.
#include "engine/config/parameter_support.hh"

#include <gtest/gtest.h>
#include <syslog.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "engine/config/config_parameters.hh"
#include "engine/config/engine_settings.hh"
#include "engine/delivery/router.hh"

namespace ringrelay::engine {
namespace {

const HostFacts kHost{"relay1.example.net"};

Config parse(const std::string& text) {
  std::vector<std::string> warnings;
  return Config::parse(text, "main.cf", kHost, warnings);
}

TEST(ParameterSupport, EveryParameterIsReadIgnoredOrRefused) {
  // Everything that is read only when something else is on, turned on; mydomain acts only through
  // $mydomain in other values.
  char secret[] = "/tmp/ringrelay-feed-secret-XXXXXX";
  int fd = ::mkstemp(secret);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::write(fd, "0123456789abcdef0123", 20), 20);
  ::close(fd);
  Config c =
      parse("feed_tcp_listen = 127.0.0.1:2526\nfeed_tcp_secret_file = " + std::string(secret) +
            "\nsmtp_helo_name = relay.$mydomain\n"
            "smtp_generic_maps = inline:{ a@b=c@d }\nlmtp_generic_maps = inline:{ a@b=c@d }\n"
            "smtp_sasl_auth_enable = yes\nsmtp_sasl_password_maps = inline:{ a=b:c }\n"
            "smtp_sasl_auth_cache_name = memory\n"
            "lmtp_sasl_auth_enable = yes\nlmtp_sasl_password_maps = inline:{ a=b:c }\n"
            "lmtp_sasl_auth_cache_name = memory\n");
  EngineSettings e = engine_settings(c);
  Router router(e.relayhost, e.transport_maps, e.sender_relayhost_maps, e.empty_sender_key);
  ::unlink(secret);
  const auto& read = c.names_read();
  std::string neither, both;
  for (const ParameterSpec& spec : known_parameters()) {
    bool is_read = read.contains(spec.name);
    const ParameterNote* note = parameter_note(spec.name);
    if (!is_read && note == nullptr) neither += " " + std::string(spec.name);
    if (is_read && note != nullptr) both += " " + std::string(spec.name);
  }
  EXPECT_EQ(neither, "") << "neither read nor listed as ignored or refused";
  EXPECT_EQ(both, "") << "listed as ignored or refused, but read";
  for (const ParameterNote& note : parameter_notes()) {
    EXPECT_NE(find_parameter(note.name), nullptr) << note.name << " is not a known parameter";
  }
}

TEST(ParameterSupport, RefusedUnlessDefaultIgnoredWithANotice) {
  EXPECT_TRUE(check_parameter_support(parse("smtp_tcp_port = smtp\n")).empty());
  try {
    check_parameter_support(parse("smtp_tcp_port = 2525\n"));
    FAIL() << "smtp_tcp_port = 2525 was accepted";
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()),
              "smtp_tcp_port = 2525: not supported by ringrelay: next hops name their port "
              "([host]:port); the default port is 25");
  }
  auto notices = check_parameter_support(parse("smtp_tls_session_cache_database = btree:/x\n"));
  ASSERT_EQ(notices.size(), 1u);
  EXPECT_EQ(notices[0],
            "smtp_tls_session_cache_database = btree:/x: ignored by ringrelay: TLS sessions are "
            "cached in the process, per shard (smtp_tls_session_cache_timeout)");
}

TEST(ParameterSupport, LmtpNamesThatFollowTheirSmtpValue) {
  // Equal values (a migrated main.cf that sets both the same), or only the smtp_ name: accepted.
  EXPECT_TRUE(
      check_parameter_support(parse("smtp_tls_ciphers = high\nlmtp_tls_ciphers = high\n")).empty());
  EXPECT_TRUE(check_parameter_support(parse("smtp_bind_address = 127.0.0.1\n")).empty());
  try {
    check_parameter_support(parse("lmtp_tls_ciphers = high\n"));
    FAIL() << "lmtp_tls_ciphers = high was accepted";
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()),
              "lmtp_tls_ciphers = high: not supported by ringrelay: LMTP next hops use "
              "smtp_tls_ciphers, as SMTP next hops do (smtp_tls_ciphers = medium); give "
              "lmtp_tls_ciphers the same value or leave it out");
  }
}

TEST(LegacyTlsNames, LmtpHasItsOwn) {
  auto level = [](const std::string& text) {
    return engine_settings(parse(text)).tls.lmtp_policy.level;
  };
  using L = tls::SecurityLevel;
  EXPECT_EQ(level(""), L::none);  // Postfix's LMTP default
  EXPECT_EQ(level("lmtp_use_tls = yes\n"), L::may);
  EXPECT_EQ(level("lmtp_enforce_tls = yes\nlmtp_tls_enforce_peername = no\n"), L::encrypt);
  EXPECT_EQ(level("lmtp_enforce_tls = yes\nlmtp_tls_security_level = may\n"), L::may);
  EXPECT_EQ(level("smtp_use_tls = yes\n"), L::none);  // the smtp_ names are SMTP's
}

TEST(ParameterSupport, DocumentedInConfigurationMd) {
  std::ifstream file(RINGRELAY_SOURCE_DIR "/docs/configuration.md");
  std::stringstream text;
  text << file.rdbuf();
  for (const ParameterNote& note : parameter_notes()) {
    EXPECT_NE(text.str().find("`" + std::string(note.name) + "`"), std::string::npos)
        << note.name << " is not in docs/configuration.md";
  }
}

TEST(ParameterSupport, EveryParameterInTheFullList) {
  std::ifstream file(RINGRELAY_SOURCE_DIR "/docs/configuration.md");
  std::stringstream text;
  text << file.rdbuf();
  std::string docs = text.str();
  std::size_t list = docs.find("## Every parameter");
  ASSERT_NE(list, std::string::npos);
  std::string_view table = std::string_view(docs).substr(list);
  for (const ParameterSpec& spec : known_parameters()) {
    std::string value(spec.default_value);
    std::string shown = value.empty() ? "(empty)" : "`" + value + "`";
    EXPECT_NE(table.find("| `" + std::string(spec.name) + "` | " + shown + " |"), table.npos)
        << spec.name << " (default " << shown << ") is not in docs/configuration.md's full list; "
        << "regenerate it with tests/lint/parameter_list.py";
  }
}

TEST(LegacyTlsNames, MapOntoLevelsAsPostfixDoes) {
  auto level = [](const std::string& text) {
    return engine_settings(parse(text)).tls.defaults.level;
  };
  using L = tls::SecurityLevel;
  EXPECT_EQ(level(""), L::may);  // ringrelay's default
  EXPECT_EQ(level("smtp_use_tls = yes\n"), L::may);
  EXPECT_EQ(level("smtp_use_tls = no\n"), L::none);
  EXPECT_EQ(level("smtp_enforce_tls = yes\n"), L::verify);  // smtp_tls_enforce_peername = yes
  EXPECT_EQ(level("smtp_enforce_tls = yes\nsmtp_tls_enforce_peername = no\n"), L::encrypt);
  // An explicit level wins, as in Postfix.
  EXPECT_EQ(level("smtp_enforce_tls = yes\nsmtp_tls_security_level = may\n"), L::may);
  EXPECT_EQ(level("smtp_tls_security_level =\nsmtp_use_tls = yes\n"), L::may);
  EXPECT_EQ(level("smtp_tls_security_level =\n"), L::none);
}

TEST(StartChecks, MalformedAddressesStopTheStart) {
  auto error_of = [](const std::string& text) -> std::string {
    try {
      engine_settings(parse(text));
    } catch (const ConfigError& e) {
      return e.what();
    }
    return "(no error)";
  };
  EXPECT_EQ(error_of("smtp_bind_address = 192.0.2.300\n"),
            "smtp_bind_address = 192.0.2.300: expected an IPv4 address");
  EXPECT_EQ(error_of("smtp_bind_address6 = 192.0.2.1\n"),
            "smtp_bind_address6 = 192.0.2.1: expected an IPv6 address");
  EXPECT_NE(error_of("relayhost = [unclosed\n").find("relayhost = [unclosed: "), std::string::npos);
}

TEST(ParameterSupport, RestartOnlyParametersAreKnownDocumentedAndSaidOnReload) {
  std::ifstream file(RINGRELAY_SOURCE_DIR "/docs/configuration.md");
  std::stringstream docs;
  docs << file.rdbuf();
  std::string text = docs.str();
  auto section = text.find("## Reloading");
  ASSERT_NE(section, std::string::npos);
  std::string reloading = text.substr(section, text.find("\n## ", section + 1) - section);
  for (std::string_view name : restart_only_parameters()) {
    EXPECT_NE(find_parameter(name), nullptr) << name;
    EXPECT_NE(reloading.find("`" + std::string(name) + "`"), std::string::npos)
        << name << " is not in docs/configuration.md's Reloading section";
  }
  auto notices = restart_notices(parse("shards = 2\n"), parse("shards = 4\nsmtp_helo_name = x\n"));
  ASSERT_EQ(notices.size(), 1u);
  EXPECT_EQ(notices[0],
            "warning: shards changed to \"4\": it takes effect at the next start (systemctl "
            "restart ringrelay); the running value \"2\" stays");
}

TEST(ParameterSupport, SyslogFacilityAndFallbackRelayAsPostfixHasThem) {
  EXPECT_EQ(engine_settings(parse("")).syslog_facility, LOG_MAIL);
  EXPECT_EQ(engine_settings(parse("syslog_facility = local3\n")).syslog_facility, LOG_LOCAL3);
  EXPECT_THROW(engine_settings(parse("syslog_facility = bogus\n")), ConfigError);
  // Postfix: smtp_fallback_relay = $fallback_relay.
  EXPECT_EQ(parse("fallback_relay = [192.0.2.9]:2525\n").list("smtp_fallback_relay"),
            std::vector<std::string>{"[192.0.2.9]:2525"});
  EXPECT_EQ(parse("fallback_relay = [192.0.2.9]\nsmtp_fallback_relay = [192.0.2.8]\n")
                .list("smtp_fallback_relay"),
            std::vector<std::string>{"[192.0.2.8]"});
}

}  // namespace
}  // namespace ringrelay::engine
