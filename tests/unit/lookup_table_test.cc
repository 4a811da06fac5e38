// Lookup tables as Postfix operators write them: the first-match regexp:, pcre: and cidr: rules
// (flags, groups, negation, if/endif, errors at start with file and line), and the lmdb: and cdb:
// files built by Postfix's own postmap, read as built.
#include "engine/config/lookup_table.hh"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "engine/config/config.hh"

namespace ringrelay::engine {
namespace {

class TableFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/ringrelay-tables-XXXXXX";
    dir_ = ::mkdtemp(pattern);
    std::ofstream(dir_ + "/main.cf") << "";  // for postmap -c
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string file(const std::string& name, const std::string& text) {
    std::string path = dir_ + "/" + name;
    std::ofstream(path) << text;
    return path;
  }
  std::string error_of(const std::string& spec) {
    try {
      LookupTable table(spec);
    } catch (const ConfigError& e) {
      return e.what();
    }
    return "(no error)";
  }
  void postmap(const std::string& spec) {
    std::string command = "postmap -c " + dir_ + " " + spec;
    ASSERT_EQ(std::system(command.c_str()), 0) << command;
  }

  std::string dir_;
};

std::string or_none(const std::optional<std::string>& value) {
  return value.value_or("(none)");
}

TEST_F(TableFiles, RegexpRulesApplyInOrderCaseInsensitiveByDefault) {
  LookupTable table("regexp:" + file("r",
                                     "# comment\n"
                                     "/^(.*)@Example\\.COM$/  relay:[$1.mx]\n"
                                     "/^admin@/i  case-sensitive\n"
                                     "/@/  any $$5\n"));
  EXPECT_FALSE(table.has_fixed_keys());
  EXPECT_EQ(or_none(table.find("Joe@example.com")), "relay:[Joe.mx]");
  EXPECT_EQ(or_none(table.find("admin@other.org")), "case-sensitive");
  EXPECT_EQ(or_none(table.find("ADMIN@other.org")), "any $5");
  EXPECT_EQ(or_none(table.find("no-at-sign")), "(none)");
}

TEST_F(TableFiles, NegationTwoPatternsAndNestedIfBlocks) {
  LookupTable table("regexp:" + file("r",
                                     "if /\\.example$/\n"
                                     "if !/^mx/\n"
                                     "/./  not-mx\n"
                                     "endif\n"
                                     "/^mx1/!/backup/  mx1\n"
                                     "endif\n"
                                     "!/\\.org$/  not-org\n"));
  EXPECT_EQ(or_none(table.find("www.example")), "not-mx");
  EXPECT_EQ(or_none(table.find("mx1.example")), "mx1");
  EXPECT_EQ(or_none(table.find("mx1-backup.example")), "not-org");
  EXPECT_EQ(or_none(table.find("mail.org")), "(none)");
}

TEST_F(TableFiles, PcreUsesPcreSyntaxAndFlags) {
  LookupTable table("pcre:" + file("p",
                                   "/^(?<user>[^@]+)@(\\w+)\\.net$/ $2:${1}\n"
                                   "/^subject:\\s+\\d{3}\\b/i  digits\n"
                                   "/^a.b$/s  dotall\n"
                                   "/multi$/m  multiline\n"));
  EXPECT_EQ(or_none(table.find("Ann@host.NET")), "host:Ann");
  EXPECT_EQ(or_none(table.find("subject: 123 go")), "digits");
  EXPECT_EQ(or_none(table.find("Subject: 123 go")), "(none)");  // "i" made it case-sensitive
  EXPECT_EQ(or_none(table.find("a\nb")), "dotall");
  EXPECT_EQ(or_none(table.find("multi\nline")), "multiline");
}

TEST_F(TableFiles, UnmatchedOptionalGroupSubstitutesNothing) {
  LookupTable table("pcre:" + file("p", "/^(a)?(b)$/ [$1][$2]\n"));
  EXPECT_EQ(or_none(table.find("b")), "[][b]");
  EXPECT_EQ(or_none(table.find("ab")), "[a][b]");
}

TEST_F(TableFiles, PatternErrorsStopTheStartWithFileAndLine) {
  std::string bad_regexp = file("bad1", "/ok/ fine\n/(unclosed/ x\n");
  EXPECT_NE(error_of("regexp:" + bad_regexp).find(bad_regexp + ", line 2"), std::string::npos);
  EXPECT_NE(error_of("pcre:" + file("bad2", "/(a)/ $2\n")).find("$2 is out of range"),
            std::string::npos);
  EXPECT_NE(error_of("pcre:" + file("bad3", "/a/q x\n")).find("unknown pcre flag \"q\""),
            std::string::npos);
  EXPECT_NE(error_of("regexp:" + file("bad4", "endif\n")).find("endif without if"),
            std::string::npos);
  EXPECT_NE(error_of("regexp:" + file("bad5", "if /a/\n/b/ c\n")).find("no matching endif"),
            std::string::npos);
  EXPECT_NE(error_of("regexp:" + file("bad6", "/a/\n")).find("no result"), std::string::npos);
  EXPECT_NE(error_of("regexp:" + file("bad7", "!/(a)/ $1\n")).find("negated"), std::string::npos);
  EXPECT_NE(error_of("regexp:" + file("bad8", "/a/ $x\n")).find("group number"), std::string::npos);
  EXPECT_NE(error_of("pcre:" + file("bad9", "/a/!/b/ x\n")).find("regexp: table feature"),
            std::string::npos);
  EXPECT_NE(error_of("regexp:" + dir_ + "/missing").find("cannot open"), std::string::npos);
  // What would make glibc's regcomp take exponential memory is refused at load.
  EXPECT_NE(error_of("regexp:" + file("bad10", "/(.++++++++++++++++++++*)@x/ y\n"))
                .find("adjacent repetition operators"),
            std::string::npos);
  EXPECT_NE(error_of("regexp:" + file("bad11", "/(a{200}){999}/ y\n")).find("above 255"),
            std::string::npos);
  EXPECT_EQ(error_of("regexp:" + file("fine", "/^[]*+?{]x{1,255}[a-z]+\\+?$/ y\n")), "(no error)");
}

TEST_F(TableFiles, CidrMatchesAddressBlocksOfBothFamilies) {
  LookupTable table("cidr:" + file("c",
                                   "192.0.2.0/24  v4-block\n"
                                   "[2001:db8::]/32  v6-block\n"
                                   "198.51.100.7  one-host\n"
                                   "if 10.0.0.0/8\n"
                                   "!10.1.0.0/16  ten-not-ten-one\n"
                                   "endif\n"
                                   "0.0.0.0/0  any-v4\n"));
  EXPECT_EQ(or_none(table.find("192.0.2.200")), "v4-block");
  EXPECT_EQ(or_none(table.find("2001:db8:1::25")), "v6-block");
  EXPECT_EQ(or_none(table.find("[2001:db8::1]")), "v6-block");
  EXPECT_EQ(or_none(table.find("198.51.100.7")), "one-host");
  EXPECT_EQ(or_none(table.find("198.51.100.8")), "any-v4");
  EXPECT_EQ(or_none(table.find("10.2.3.4")), "ten-not-ten-one");
  EXPECT_EQ(or_none(table.find("10.1.3.4")), "any-v4");
  EXPECT_EQ(or_none(table.find("2001:db9::1")), "(none)");
  EXPECT_EQ(or_none(table.find("mx.example.com")), "(none)");
  EXPECT_NE(error_of("cidr:" + file("c2", "192.0.2.1/24 x\n"))
                .find("non-null host address bits in \"192.0.2.1/24\", perhaps you should use "
                      "\"192.0.2.0/24\" instead"),
            std::string::npos);
  EXPECT_NE(error_of("cidr:" + file("c3", "192.0.2.0/33 x\n")).find("exceeds 32"),
            std::string::npos);
  EXPECT_NE(error_of("cidr:" + file("c4", "mx.example x\n")).find("not an address"),
            std::string::npos);
}

TEST_F(TableFiles, LmdbAndCdbAreReadAsPostmapBuiltThem) {
  std::string source = file("transport",
                            "Example.COM  smtp:[mx.example.com]:2525\n"
                            "other.org   relay:[10.0.0.1]\n");
  postmap("lmdb:" + source);
  postmap("cdb:" + source);
  // The source text changes after postmap: the built file is what counts.
  file("transport", "example.com  smtp:[changed]\n");
  for (const std::string type : {"lmdb:", "cdb:"}) {
    LookupTable table(type + source);
    EXPECT_TRUE(table.has_fixed_keys());
    EXPECT_EQ(or_none(table.find("EXAMPLE.com")), "smtp:[mx.example.com]:2525") << type;
    EXPECT_EQ(or_none(table.find("other.org")), "relay:[10.0.0.1]") << type;
    EXPECT_EQ(or_none(table.find("changed")), "(none)") << type;
    EXPECT_EQ(table.path(), source + "." + type.substr(0, type.size() - 1));
    std::vector<TableEntry> entries = read_lookup_table(type + source);
    EXPECT_EQ(entries.size(), 2u) << type;
  }
  EXPECT_NE(error_of("lmdb:" + dir_ + "/never-built").find("build it with postmap"),
            std::string::npos);
  std::string not_cdb = file("junk.cdb", "x");
  EXPECT_NE(error_of("cdb:" + dir_ + "/junk").find("not a cdb file"), std::string::npos);
}

TEST_F(TableFiles, FixedKeyParametersRefusePatternTablesAndSayWhy) {
  std::string path = file("r", "/a/ b\n");
  try {
    read_lookup_table("regexp:" + path);
    FAIL() << "a regexp: table was enumerated";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("needs a table with fixed keys"), std::string::npos);
  }
  EXPECT_NE(indexed_source_notice("hash:/etc/postfix/transport").find("Berkeley DB"),
            std::string::npos);
  EXPECT_EQ(indexed_source_notice("lmdb:/etc/postfix/transport"), "");
  EXPECT_NE(error_of("ldap:/etc/postfix/ldap.cf").find("unsupported lookup table type"),
            std::string::npos);
}

TEST_F(TableFiles, StaticAndInlineAndTexthash) {
  EXPECT_EQ(or_none(LookupTable("static:any value").find("whatever")), "any value");
  LookupTable inline_table("inline:{ A=1, { b = two words } }");
  EXPECT_EQ(or_none(inline_table.find("a")), "1");
  EXPECT_EQ(or_none(inline_table.find("B")), "two words");
  LookupTable text("texthash:" + file("t", "Key  value\n  continued\n"));
  EXPECT_EQ(or_none(text.find("KEY")), "value continued");
}

}  // namespace
}  // namespace ringrelay::engine
