// `ringrelay config` as postconf users know it: -n, -d, -x, named parameters, and the exit codes.
#include <gtest/gtest.h>
#include <sysexits.h>

#include <sstream>
#include <string>
#include <vector>

#include "engine/cli/command_config.hh"

namespace ringrelay::engine {
namespace {

struct CommandRun {
  int status;
  std::string out, err;
};

CommandRun run(std::vector<std::string_view> args) {
  std::ostringstream out, err;
  int status = run_config_command(args, HostFacts{"relay1.example.net"}, out, err);
  return {status, out.str(), err.str()};
}

const std::string kSample = std::string(RINGRELAY_TEST_DATA) + "/sample.cf";
const std::string kBad = std::string(RINGRELAY_TEST_DATA) + "/bad-time.cf";

TEST(ConfigCommand, DashNPrintsExactlyTheSettingsOfTheFile) {
  CommandRun r = run({"-c", kSample, "-n"});
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.out,
            "default_destination_recipient_limit = 100\n"
            "relayhost = [smart.example.com]:2525\n"
            "shards = 2\n"
            "smtp_connect_timeout = 10s\n"
            "smtp_discard_ehlo_keywords = chunking, silent-discard\n"
            "smtp_helo_name = out.$mydomain\n"
            "smtp_tls_security_level = encrypt\n");
  EXPECT_EQ(r.err, "");
}

TEST(ConfigCommand, DashNMarksIgnoredParametersAndMasksSecrets) {
  CommandRun r = run({"-c", std::string(RINGRELAY_TEST_DATA) + "/ignored-and-secrets.cf", "-n"});
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.out,
            "smtp_sasl_password_maps = inline:{(secrets not shown)}\n"
            "# smtp_tls_session_cache_database: ignored by ringrelay: TLS sessions are cached in "
            "the process, per shard (smtp_tls_session_cache_timeout)\n"
            "smtp_tls_session_cache_database = btree:/var/lib/postfix/smtp_scache\n");
}

TEST(ConfigCommand, NamedParametersAndExpansion) {
  CommandRun r = run({"-c", kSample, "smtp_helo_name", "smtp_rcpt_timeout"});
  EXPECT_EQ(r.out, "smtp_helo_name = out.$mydomain\nsmtp_rcpt_timeout = 300s\n");
  r = run({"-c", kSample, "-x", "smtp_helo_name", "smtp_destination_recipient_limit"});
  EXPECT_EQ(r.out, "smtp_helo_name = out.example.net\nsmtp_destination_recipient_limit = 100\n");
}

TEST(ConfigCommand, DefaultsIgnoreTheFile) {
  CommandRun r = run({"-c", kSample, "-d", "smtp_connect_timeout", "smtp_helo_name", "relayhost"});
  EXPECT_EQ(r.out, "smtp_connect_timeout = 30s\nsmtp_helo_name = $myhostname\nrelayhost =\n");
}

TEST(ConfigCommand, AllParametersWithoutFlags) {
  CommandRun r = run({"-c", kSample});
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(r.out.find("smtp_connect_timeout = 10s\n"), std::string::npos);
  EXPECT_NE(r.out.find("smtp_data_done_timeout = 600s\n"), std::string::npos);
}

TEST(ConfigCommand, UnknownNameIsWarnedAbout) {
  CommandRun r = run({"-c", kSample, "smtp_frobnicate"});
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "ringrelay: warning: smtp_frobnicate: unknown parameter\n");
}

TEST(ConfigCommand, BadValueExitsWithConfigError) {
  CommandRun r = run({"-c", kBad});
  EXPECT_EQ(r.status, EX_CONFIG);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "ringrelay: fatal: " + kBad +
                       ", line 4: bad value: smtp_connect_timeout = 30x: expected a whole number "
                       "with an optional unit s (seconds), m, h, d or w, at least 0s\n");
}

TEST(ConfigCommand, MissingExplicitFileIsAConfigError) {
  CommandRun r = run({"-c", "/nonexistent/main.cf"});
  EXPECT_EQ(r.status, EX_CONFIG);
  EXPECT_EQ(r.err, "ringrelay: fatal: /nonexistent/main.cf: cannot open configuration file\n");
}

TEST(ConfigCommand, UsageErrors) {
  EXPECT_EQ(run({"-c"}).status, EX_USAGE);
  EXPECT_EQ(run({"-q"}).status, EX_USAGE);
  EXPECT_EQ(run({"-n", "-d"}).status, EX_USAGE);
  EXPECT_EQ(run({"-q"}).err,
            "ringrelay: config: unknown option -q\n"
            "usage: ringrelay config [-c PATH] [-n] [-d] [-x] [NAME...]\n");
}

}  // namespace
}  // namespace ringrelay::engine
