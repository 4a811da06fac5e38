// Cross-check with Postfix: each message of tests/mime/corpus/ went through a real Postfix to a
// server without 8BITMIME (tests/mime/capture-postfix.sh stored what it sent in
// tests/mime/postfix/). ringrelay's wire output must be the same byte for byte, or differ exactly
// as documented in tests/mime/README.md.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include "proto/body_encoder.hh"
#include "proto/mime_downgrade.hh"
#include "tests/unit/wire.hh"

namespace ringrelay::proto {
namespace {

namespace fs = std::filesystem;

std::string read(const fs::path& path) {
  std::ifstream file(path, std::ios::binary);
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

// What the server receives from ringrelay, as smtp-sink dumps it: unstuffed, LF line endings.
std::string ringrelay_sends(const std::string& message) {
  DowngradeResult converted = downgrade_to_7bit(message, {});
  std::vector<std::string_view> spans = converted.output.segments();
  BodyEncoder encoder(spans, BodyEncoder::Mode::data, 998);
  OutputBatch wire;
  encoder.produce(wire, static_cast<std::size_t>(-1));
  return ringrelay::testing::unstuff(wire.flatten(), /*lf=*/true);
}

std::pair<std::string, std::string> split_header_body(const std::string& message) {
  std::size_t at = message.find("\n\n");
  return {message.substr(0, at + 1), message.substr(at + 2)};
}

std::string lf(std::string text) {
  std::string out;
  for (char c : text) {
    if (c != '\r') out += c;
  }
  return out;
}

enum class Expect {
  same,                 // byte for byte what Postfix sends
  converted_beyond,     // Postfix sends 8-bit as is; ringrelay converts it (see README)
  postfix_rewrites_cr,  // Postfix's sendmail turns a bare CR into a space before conversion
};

const std::map<std::string, Expect> kExpectations = {
    {"alternative_8bit", Expect::same},
    {"crlf_oddities", Expect::postfix_rewrites_cr},
    {"dots", Expect::same},
    {"header_8bit", Expect::same},
    {"labelled_7bit_but_8bit", Expect::converted_beyond},
    {"long_lines", Expect::same},
    {"message_rfc822_attachment", Expect::same},
    {"nested_multipart", Expect::same},
    {"no_mime_headers_8bit", Expect::converted_beyond},
    {"no_trailing_newline", Expect::same},
    {"plain_8bit", Expect::same},
    {"seven_bit_only", Expect::same},
};

TEST(MimeCrossCheck, EveryCorpusMessageHasAPostfixCaptureAndAnExpectation) {
  std::size_t count = 0;
  for (const auto& entry : fs::directory_iterator(fs::path(RINGRELAY_MIME) / "corpus")) {
    std::string name = entry.path().stem().string();
    EXPECT_TRUE(kExpectations.count(name)) << name << " has no expectation";
    EXPECT_TRUE(fs::exists(fs::path(RINGRELAY_MIME) / "postfix" / (name + ".eml"))) << name;
    ++count;
  }
  EXPECT_EQ(count, kExpectations.size());
}

class MimeCrossCheckMessage : public ::testing::TestWithParam<std::string> {};

TEST_P(MimeCrossCheckMessage, MatchesPostfix) {
  const std::string name = GetParam();
  std::string original = read(fs::path(RINGRELAY_MIME) / "corpus" / (name + ".eml"));
  std::string postfix = read(fs::path(RINGRELAY_MIME) / "postfix" / (name + ".eml"));
  std::string ours = ringrelay_sends(original);
  EXPECT_FALSE(has_8bit(split_header_body(ours).second)) << "ringrelay's body must be 7-bit";
  switch (kExpectations.at(name)) {
    case Expect::same:
      EXPECT_EQ(ours, postfix);
      break;
    case Expect::converted_beyond: {
      // Postfix left the 8-bit body as it was; ringrelay's quoted-printable decodes to it.
      auto [our_headers, our_body] = split_header_body(ours);
      auto [postfix_headers, postfix_body] = split_header_body(postfix);
      EXPECT_TRUE(has_8bit(postfix_body));
      EXPECT_EQ(lf(quoted_printable_decode(our_body)), postfix_body);
      EXPECT_NE(our_headers.find("Content-Transfer-Encoding: quoted-printable\n"),
                std::string::npos);
      break;
    }
    case Expect::postfix_rewrites_cr: {
      // The only difference: the bare CR, which ringrelay keeps (=0D) and Postfix made a space.
      std::string expected;
      for (std::size_t i = 0; i < ours.size(); ++i) {
        bool encoded_cr = ours.compare(i, 3, "=0D") == 0;
        expected += encoded_cr ? ' ' : ours[i];
        if (encoded_cr) i += 2;
      }
      EXPECT_NE(ours, postfix);
      EXPECT_EQ(expected, postfix);
      break;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Corpus, MimeCrossCheckMessage, ::testing::ValuesIn([] {
                           std::vector<std::string> names;
                           for (const auto& [name, expect] : kExpectations) names.push_back(name);
                           return names;
                         }()),
                         [](const auto& test) { return test.param; });

}  // namespace
}  // namespace ringrelay::proto
