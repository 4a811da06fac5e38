// The main.cf reader: logical lines, $name expansion, typed values, and every error and warning
// message an operator can get, asserted word for word.
#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "engine/config/config.hh"
#include "engine/config/config_parameters.hh"
#include "engine/config/config_values.hh"
#include "engine/config/engine_settings.hh"

namespace ringrelay::engine {
namespace {

const HostFacts kHost{"relay1.example.net"};

Config parse(std::string_view text, std::vector<std::string>* warnings = nullptr) {
  std::vector<std::string> scratch;
  return Config::parse(text, "main.cf", kHost, warnings ? *warnings : scratch);
}

std::string error_of(std::string_view text) {
  try {
    parse(text);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "(no error)";
}

// The message engine_settings() stops with for `text`, or "(no error)".
std::string settings_error(std::string_view text) {
  try {
    engine_settings(parse(text));
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "(no error)";
}

// A temporary directory for table files, removed at the end of the test.
class TableFiles {
 public:
  explicit TableFiles(const char* name) {
    std::string pattern = std::string("/tmp/ringrelay-") + name + "-XXXXXX";
    dir_ = ::mkdtemp(pattern.data());
  }
  ~TableFiles() { std::filesystem::remove_all(dir_); }
  // Writes `text` to the file `name`; its path.
  std::string operator()(const std::string& name, const std::string& text) const {
    std::ofstream(dir_ + "/" + name) << text;
    return dir_ + "/" + name;
  }
  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
};

TEST(ConfigParameters, TableIsSortedAndEveryDefaultIsValid) {
  auto params = known_parameters();
  EXPECT_TRUE(std::is_sorted(params.begin(), params.end(),
                             [](const auto& a, const auto& b) { return a.name < b.name; }));
  std::vector<std::string> warnings;
  Config defaults = parse("", &warnings);  // validates every default
  EXPECT_TRUE(warnings.empty());
  EXPECT_EQ(find_parameter("smtp_connect_timeout")->default_value, "30s");
  EXPECT_EQ(find_parameter("no_such_parameter"), nullptr);
}

TEST(Config, PostfixDefaults) {
  Config c = parse("");
  EXPECT_EQ(c.seconds("smtp_connect_timeout"), 30);
  EXPECT_EQ(c.seconds("smtp_data_done_timeout"), 600);
  EXPECT_EQ(c.seconds("smtp_connection_reuse_time_limit"), 300);
  EXPECT_EQ(c.seconds("smtp_connection_cache_time_limit"), 2);
  EXPECT_EQ(c.integer("smtp_destination_concurrency_limit"), 20);
  EXPECT_EQ(c.integer("smtp_destination_recipient_limit"), 50);
  EXPECT_EQ(c.integer("initial_destination_concurrency"), 5);
  EXPECT_EQ(c.integer("smtp_line_length_limit"), 998);
  EXPECT_TRUE(c.boolean("smtp_skip_5xx_greeting"));
  EXPECT_FALSE(c.boolean("smtp_never_send_ehlo"));
  EXPECT_EQ(c.value("smtp_tls_security_level"), "may");
  EXPECT_EQ(c.count_or_auto("shards"), 0);
  EXPECT_EQ(c.value("smtp_helo_name"), "relay1.example.net");
  EXPECT_EQ(c.value("mydomain"), "example.net");
  EXPECT_EQ(c.raw("smtp_helo_name"), "$myhostname");
  EXPECT_EQ(c.list("smtp_tls_secure_cert_match"),
            (std::vector<std::string>{"nexthop", "dot-nexthop"}));
  EXPECT_TRUE(c.feedback("default_destination_concurrency_positive_feedback").amount == 1.0);
}

TEST(Config, HostWithoutDomainGetsLocaldomain) {
  std::vector<std::string> warnings;
  Config c = Config::parse("", "main.cf", HostFacts{"box"}, warnings);
  EXPECT_EQ(c.value("myhostname"), "box.localdomain");
  EXPECT_EQ(c.value("mydomain"), "localdomain");
}

TEST(Config, TimeUnitsAndTypedValues) {
  Config c = parse(
      "smtp_connect_timeout = 45\n"
      "smtp_helo_timeout = 2m\n"
      "smtp_data_done_timeout = 1h\n"
      "smtp_connection_reuse_time_limit = 1d\n"
      "smtp_tls_session_cache_timeout = 1w\n"
      "smtp_skip_quit_response = NO\n"
      "shards = 3\n"
      "default_destination_concurrency_negative_feedback = 1/concurrency\n"
      "smtp_discard_ehlo_keywords = pipelining, chunking  silent-discard\n");
  EXPECT_EQ(c.seconds("smtp_connect_timeout"), 45);
  EXPECT_EQ(c.seconds("smtp_helo_timeout"), 120);
  EXPECT_EQ(c.seconds("smtp_data_done_timeout"), 3600);
  EXPECT_EQ(c.seconds("smtp_connection_reuse_time_limit"), 86400);
  EXPECT_EQ(c.seconds("smtp_tls_session_cache_timeout"), 604800);
  EXPECT_FALSE(c.boolean("smtp_skip_quit_response"));
  EXPECT_EQ(c.count_or_auto("shards"), 3);
  EXPECT_TRUE(c.feedback("default_destination_concurrency_negative_feedback").per_concurrency);
  EXPECT_EQ(c.list("smtp_discard_ehlo_keywords"),
            (std::vector<std::string>{"pipelining", "chunking", "silent-discard"}));
}

TEST(Config, LogicalLinesCommentsAndContinuations) {
  Config c = parse(
      "# a comment\n"
      "smtp_discard_ehlo_keywords = pipelining,\n"
      "    chunking\n"
      "  # an indented comment does not end the logical line\n"
      "\tdsn\n"
      "\n"
      "relayhost = [smart.example]:587   \r\n"
      "smtp_helo_name = mx # not a comment: '#' inside a value is text\n");
  EXPECT_EQ(c.list("smtp_discard_ehlo_keywords"),
            (std::vector<std::string>{"pipelining", "chunking", "dsn"}));
  EXPECT_EQ(c.value("relayhost"), "[smart.example]:587");
  EXPECT_EQ(c.value("smtp_helo_name"), "mx # not a comment: '#' inside a value is text");
}

TEST(Config, DollarExpansionForms) {
  Config c = parse(
      "myhostname = mx1.example.org\n"
      "my_suffix = out\n"
      "smtp_helo_name = $my_suffix.${mydomain}\n"
      "lmtp_lhlo_name = $(myhostname)\n"
      "smtp_tls_servername = ${relayhost?relayed}${relayhost:direct}\n"
      "smtp_bind_address = ${my_suffix?{x}}\n"
      "feed_tcp_listen = a $ sign and a trailing $\n");
  EXPECT_EQ(c.value("smtp_helo_name"), "out.example.org");
  EXPECT_EQ(c.value("lmtp_lhlo_name"), "mx1.example.org");
  EXPECT_EQ(c.value("smtp_tls_servername"), "direct");
  EXPECT_EQ(c.value("smtp_bind_address"), "{x}");
  EXPECT_EQ(c.value("feed_tcp_listen"), "a $ sign and a trailing $");
}

TEST(Config, DefaultsThatReferToOtherParametersFollowThem) {
  Config c = parse("default_destination_recipient_limit = 100\n");
  EXPECT_EQ(c.integer("smtp_destination_recipient_limit"), 100);
  EXPECT_EQ(c.raw("smtp_destination_recipient_limit"), "$default_destination_recipient_limit");
}

TEST(Config, LaterEntryWinsWithAWarning) {
  std::vector<std::string> warnings;
  Config c = parse("smtp_connect_timeout = 10s\nsmtp_connect_timeout = 20s\n", &warnings);
  EXPECT_EQ(c.seconds("smtp_connect_timeout"), 20);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_EQ(warnings[0], "main.cf, line 2: overriding earlier entry: smtp_connect_timeout=10s");
}

TEST(Config, UnknownParameterIsWarnedUnlessReferenced) {
  std::vector<std::string> warnings;
  Config c = parse(
      "smtp_conect_timeout = 10s\n"
      "my_helo = out.example\n"
      "smtp_helo_name = $my_helo\n",
      &warnings);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_EQ(warnings[0], "main.cf, line 1: unused parameter: smtp_conect_timeout=10s");
  EXPECT_EQ(c.value("smtp_helo_name"), "out.example");
}

TEST(Config, ReferenceToUndefinedParameterIsWarned) {
  std::vector<std::string> warnings;
  Config c = parse("smtp_helo_name = $nosuch.example\n", &warnings);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_EQ(warnings[0], "main.cf, line 1: smtp_helo_name: undefined parameter: $nosuch");
  EXPECT_EQ(c.value("smtp_helo_name"), ".example");
}

TEST(ConfigErrors, MalformedValuesNameFileLineParameterAndExpectation) {
  EXPECT_EQ(error_of("\nsmtp_connect_timeout = 30x\n"),
            "main.cf, line 2: bad value: smtp_connect_timeout = 30x: expected a whole number with "
            "an optional unit s (seconds), m, h, d or w, at least 0s");
  EXPECT_EQ(error_of("smtp_helo_timeout = 0\n"),
            "main.cf, line 1: bad value: smtp_helo_timeout = 0: expected a whole number with an "
            "optional unit s (seconds), m, h, d or w, at least 1s");
  EXPECT_EQ(error_of("smtp_helo_timeout = -5s\n"),
            "main.cf, line 1: bad value: smtp_helo_timeout = -5s: expected a whole number with an "
            "optional unit s (seconds), m, h, d or w, at least 1s");
  EXPECT_EQ(error_of("smtp_skip_quit_response = maybe\n"),
            "main.cf, line 1: bad value: smtp_skip_quit_response = maybe: expected yes or no");
  EXPECT_EQ(error_of("smtp_mx_address_limit = five\n"),
            "main.cf, line 1: bad value: smtp_mx_address_limit = five: expected a whole number "
            "of at least 0");
  EXPECT_EQ(error_of("initial_destination_concurrency = 0\n"),
            "main.cf, line 1: bad value: initial_destination_concurrency = 0: expected a whole "
            "number of at least 1");
  EXPECT_EQ(error_of("smtp_tls_security_level = paranoid\n"),
            "main.cf, line 1: bad value: smtp_tls_security_level = paranoid: expected one of "
            "(empty),none,may,encrypt,dane,dane-only,fingerprint,verify,secure");
  EXPECT_EQ(error_of("inet_protocols = ipv4, ipx\n"),
            "main.cf, line 1: bad value: inet_protocols = ipv4, ipx: expected a list of "
            "all,ipv4,ipv6");
  EXPECT_EQ(error_of("shards = many\n"),
            "main.cf, line 1: bad value: shards = many: expected auto, or a whole number of at "
            "least 1");
  EXPECT_EQ(error_of("default_destination_concurrency_positive_feedback = 2\n"),
            "main.cf, line 1: bad value: default_destination_concurrency_positive_feedback = 2: "
            "expected 1/concurrency, 1/N, or a number from 0 to 1");
  EXPECT_EQ(error_of("smtp_connect_timeout = 99999999999999999999\n"),
            "main.cf, line 1: bad value: smtp_connect_timeout = 99999999999999999999: expected a "
            "whole number with an optional unit s (seconds), m, h, d or w, at least 0s");
}

TEST(ConfigErrors, ValueBadOnlyAfterExpansionShowsBoth) {
  EXPECT_EQ(error_of("my_timeout = soon\nsmtp_rcpt_timeout = $my_timeout\n"),
            "main.cf, line 2: bad value: smtp_rcpt_timeout = $my_timeout (expands to \"soon\"): "
            "expected a whole number with an optional unit s (seconds), m, h, d or w, at least 1s");
  // A default that refers to a bad file value is reported at the file value, first.
  EXPECT_EQ(error_of("default_destination_recipient_limit = lots\n"),
            "main.cf, line 1: bad value: default_destination_recipient_limit = lots: expected a "
            "whole number of at least 0");
}

TEST(ConfigErrors, LineStructure) {
  EXPECT_EQ(error_of("smtp_connect_timeout 30s\n"),
            "main.cf, line 1: missing '=' after parameter name: \"smtp_connect_timeout 30s\"");
  EXPECT_EQ(error_of("= 30s\n"), "main.cf, line 1: missing parameter name before '='");
  EXPECT_EQ(error_of("smtp connect = 30s\n"),
            "main.cf, line 1: missing '=' after parameter name: \"smtp connect\"");
  EXPECT_EQ(error_of("smtp/connect = 30s\n"),
            "main.cf, line 1: bad parameter name \"smtp/connect\": expected letters, digits, "
            "'_', '-' or '.'");
  EXPECT_EQ(error_of("  smtp_connect_timeout = 30s\n"),
            "main.cf, line 1: a line that starts with whitespace continues a parameter, but no "
            "parameter precedes it: \"smtp_connect_timeout = 30s\"");
  EXPECT_EQ(error_of("relayhost = a\n\n  b\n"),
            "main.cf, line 3: a line that starts with whitespace continues a parameter, but no "
            "parameter precedes it: \"b\"");
}

TEST(ConfigErrors, ExpansionProblems) {
  EXPECT_EQ(error_of("a_x = $b_x\nb_x = $a_x\nsmtp_helo_name = $a_x\n"),
            "main.cf, line 3: smtp_helo_name: parameter expansion loop: smtp_helo_name -> a_x "
            "-> b_x -> a_x");
  EXPECT_EQ(error_of("smtp_helo_name = ${myhostname\n"),
            "main.cf, line 1: smtp_helo_name: unbalanced '{' in \"${myhostname\"");
  EXPECT_EQ(error_of("smtp_helo_name = ${myhostname!x}\n"),
            "main.cf, line 1: smtp_helo_name: bad $ expression \"${myhostname!x}\": expected "
            "${name}, ${name?value} or ${name:value}");
}

TEST(ConfigErrors, MissingFile) {
  std::vector<std::string> warnings;
  try {
    Config::load("/nonexistent/ringrelay/main.cf", kHost, warnings);
    FAIL() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_STREQ(e.what(), "/nonexistent/ringrelay/main.cf: cannot open configuration file");
  }
}

TEST(ConfigValues, NamesSetInFileAreSortedAndIncludeUnknownOnes) {
  Config c = parse("smtp_helo_name = a\nzz_custom = 1\nrelayhost = [b]\n");
  EXPECT_EQ(c.names_set_in_file(),
            (std::vector<std::string>{"relayhost", "smtp_helo_name", "zz_custom"}));
  EXPECT_TRUE(c.is_set_in_file("relayhost"));
  EXPECT_FALSE(c.is_set_in_file("smtp_connect_timeout"));
}

TEST(ConfigValues, WrongTypedAccessIsAProgrammingError) {
  Config c = parse("");
  EXPECT_THROW(c.seconds("smtp_destination_recipient_limit"), std::logic_error);
  EXPECT_THROW(c.integer("no_such_parameter"), std::logic_error);
}

// Rates as the shaping parameters take them: a count per second, minute, hour or day, or 0.
TEST(ConfigValues, Rates) {
  EXPECT_DOUBLE_EQ(*parse_rate("100/min"), 100.0 / 60);
  EXPECT_DOUBLE_EQ(*parse_rate("5/s"), 5);
  EXPECT_DOUBLE_EQ(*parse_rate(" 3600/h "), 1);
  EXPECT_DOUBLE_EQ(*parse_rate("0.5/m"), 0.5 / 60);
  EXPECT_DOUBLE_EQ(*parse_rate("86400/day"), 1);
  EXPECT_DOUBLE_EQ(*parse_rate("0"), 0);
  for (const char* bad : {"", "100", "0/s", "-1/s", "10/week", "1e999/s", "nan/s", "10 /s", "/s"}) {
    EXPECT_FALSE(parse_rate(bad)) << bad;
  }
  EXPECT_DOUBLE_EQ(*parse_fraction("0.5"), 0.5);
  EXPECT_FALSE(parse_fraction("1"));
  EXPECT_FALSE(parse_fraction("0"));
  Config c =
      parse("default_destination_message_rate = 600/h\nlmtp_destination_connection_rate = 2/s\n");
  EXPECT_DOUBLE_EQ(c.rate("smtp_destination_message_rate"), 600.0 / 3600);  // follows the default
  EXPECT_DOUBLE_EQ(c.rate("smtp_destination_connection_rate"), 0);
  EXPECT_DOUBLE_EQ(c.rate("lmtp_destination_connection_rate"), 2);
  EXPECT_DOUBLE_EQ(c.fraction("reply_backoff_factor"), 0.5);
  EXPECT_EQ(error_of("smtp_destination_message_rate = 100\n"),
            "main.cf, line 1: bad value: smtp_destination_message_rate = 100: expected 0 (none), "
            "or a count per unit: N/s, N/min, N/h or N/d");
  EXPECT_EQ(error_of("reply_backoff_factor = 1.5\n"),
            "main.cf, line 1: bad value: reply_backoff_factor = 1.5: expected a number between 0 "
            "and 1 (exclusive)");
}

// smtp_destination_rate_maps: "site messages=RATE connections=RATE" lines; a mistake stops the
// start with the file and line.
TEST(ConfigValues, RateMapsAndReplyRulesAreCheckedAtStart) {
  TableFiles file("rates");
  std::string good = file("rates",
                          "# per site\ngmail-smtp-in.l.google.com messages=600/min\n"
                          "[mx.small.example]  connections=1/s  messages=1/s\n");
  EngineSettings e = engine_settings(parse("smtp_destination_rate_maps = texthash:" + good + "\n"));
  EXPECT_DOUBLE_EQ(*e.rate_overrides.at("gmail-smtp-in.l.google.com").messages, 10);
  EXPECT_FALSE(e.rate_overrides.at("gmail-smtp-in.l.google.com").connections);
  EXPECT_DOUBLE_EQ(*e.rate_overrides.at("[mx.small.example]").connections, 1);
  EXPECT_TRUE(e.reply_rules.empty());

  std::string bad = file("bad", "a.example messages=1/s\nb.example messages=fast\n");
  EXPECT_EQ(settings_error("smtp_destination_rate_maps = " + bad + "\n"),
            bad +
                ", line 2: \"messages=fast\": expected messages=RATE and/or connections=RATE, "
                "each once, a RATE being 0 (none), or a count per unit: N/s, N/min, N/h or N/d");
  std::string bare = file("bare", "a.example\n");
  EXPECT_EQ(settings_error("smtp_destination_rate_maps = " + bare + "\n"),
            bare + ", line 1: expected \"destination messages=RATE connections=RATE\"");
  EXPECT_EQ(settings_error("smtp_destination_rate_maps = " + file.dir() + "/missing\n"),
            "smtp_destination_rate_maps = " + file.dir() + "/missing: cannot open the file");
  std::string rules = file("rules", "/^421 / backof\n");
  EXPECT_EQ(
      settings_error("reply_rules = pcre:" + rules + "\n").rfind("pcre:" + rules + ", line 1: ", 0),
      0u);
  e = engine_settings(
      parse("reply_rules = pcre:" RINGRELAY_SOURCE_DIR "/deploy/reply-rules.pcre\n"));
  EXPECT_FALSE(e.reply_rules.empty());
}

// reply_rule_maps: a site's own rule tables; a line without a table, a site listed twice and a
// rule whose action does not parse stop the start with the file and line.
TEST(ConfigValues, SiteReplyRulesAreCheckedAtStart) {
  TableFiles file("site-rules");
  std::string rules = file("gmail.pcre", "/4\\.7\\.28/ backoff\n");
  std::string sites = file("sites", "gmail-smtp-in.l.google.com pcre:" + rules + "\n");
  EngineSettings e = engine_settings(parse("reply_rule_maps = texthash:" + sites + "\n"));
  ASSERT_EQ(e.site_reply_rules.count("gmail-smtp-in.l.google.com"), 1u);
  EXPECT_TRUE(e.site_reply_rules.at("gmail-smtp-in.l.google.com").match("421 4.7.28 slow down"));
  EXPECT_FALSE(e.site_reply_rules.at("gmail-smtp-in.l.google.com").match("550 5.1.1 unknown"));

  std::string bare = file("bare", "mx.example.com\n");
  EXPECT_EQ(settings_error("reply_rule_maps = " + bare + "\n"),
            bare + ", line 1: expected \"site TABLE...\" (pcre: or regexp: tables)");
  std::string twice = file("twice", "a.example pcre:" + rules + "\na.example pcre:" + rules + "\n");
  EXPECT_EQ(settings_error("reply_rule_maps = " + twice + "\n"),
            twice + ", line 2: \"a.example\" is listed twice");
  std::string wrong = file("wrong.pcre", "/x/ explode\n");
  std::string bad = file("bad", "a.example pcre:" + wrong + "\n");
  EXPECT_NE(settings_error("reply_rule_maps = " + bad + "\n").find(wrong), std::string::npos);
}

}  // namespace
// egress_source_maps and egress_pool_maps: sources with their addresses and EHLO names, weighted
// pools of them, every source a pool of its own name; mistakes stop the start with file and line.
TEST(ConfigValues, EgressSourcesAndPoolsAreCheckedAtStart) {
  TableFiles file("egress");
  std::string sources = file("sources",
                             "ip1 address=192.0.2.10 helo=mta1.example.com\n"
                             "IP2 address=192.0.2.11 address6=2001:db8::11\n");
  std::string pools = file("pools", "bulk ip1:3 ip2\n");
  EngineSettings e =
      engine_settings(parse("egress_source_maps = texthash:" + sources +
                            "\negress_pool_maps = " + pools + "\ndefault_egress_pool = bulk\n"));
  ASSERT_EQ(e.egress.sources.size(), 2u);
  EXPECT_EQ(e.egress.sources[0].helo, "mta1.example.com");
  EXPECT_EQ(e.egress.sources[1].name, "ip2");
  EXPECT_TRUE(e.egress.sources[1].address6);
  ASSERT_NE(e.egress.pool("bulk"), nullptr);
  EXPECT_EQ(e.egress.pool("bulk")->members.size(), 2u);
  EXPECT_EQ(e.egress.pool("bulk")->members[0].weight, 3u);
  ASSERT_NE(e.egress.pool("ip2"), nullptr);  // a source is a pool of one
  EXPECT_EQ(e.egress.default_pool, "bulk");
  EXPECT_EQ(e.egress.retry_time, std::chrono::seconds(60));

  std::string bad = file("bad", "ip1 address=2001:db8::1\n");
  EXPECT_EQ(
      settings_error("egress_source_maps = " + bad + "\n"),
      bad + ", line 1: \"address=2001:db8::1\": expected address= once, with an IPv4 address");
  std::string none = file("none", "ip1 helo=x.example\n");
  EXPECT_EQ(settings_error("egress_source_maps = " + none + "\n"),
            none + ", line 1: source ip1: expected address=IPv4 and/or address6=IPv6");
  std::string unknown = file("unknown", "bulk ip1 ip9\n");
  EXPECT_EQ(
      settings_error("egress_source_maps = " + sources + "\negress_pool_maps = " + unknown + "\n"),
      unknown + ", line 1: \"ip9\": no such source in egress_source_maps");
  std::string weight = file("weight", "bulk ip1:0\n");
  EXPECT_EQ(
      settings_error("egress_source_maps = " + sources + "\negress_pool_maps = " + weight + "\n"),
      weight + ", line 1: \"ip1:0\": a weight is a whole number from 1 to 1000");
  EXPECT_EQ(settings_error("default_egress_pool = bulk\n"),
            "default_egress_pool = bulk: no such pool or source in egress_pool_maps or "
            "egress_source_maps");
}

}  // namespace ringrelay::engine
