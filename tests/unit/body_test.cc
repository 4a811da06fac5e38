// The body pipeline: dot-stuffing and line limits (BodyEncoder) and 8BIT→7BIT conversion, tested on
// examples and as properties over random messages: unstuff(stuff(x)) == x, QP-decode(convert(x))
// == x for every converted part, 7-bit output, no line over the limit, CRLF only.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "proto/body_encoder.hh"
#include "proto/mime_downgrade.hh"
#include "tests/unit/wire.hh"

namespace ringrelay::proto {
namespace {

std::string encode(const std::vector<std::string_view>& spans, BodyEncoder::Mode mode,
                   std::size_t limit, std::size_t piece = static_cast<std::size_t>(-1)) {
  BodyEncoder encoder(spans, mode, limit);
  OutputBatch out;
  while (!encoder.done()) encoder.produce(out, piece);
  return out.flatten();
}

// What the receiving server does: strip the terminator and one leading dot per line.
std::string unstuff(const std::string& wire) {
  EXPECT_TRUE(wire.ends_with(".\r\n"));
  return ringrelay::testing::unstuff(wire);
}

// The input as the wire must carry it: every line ending CRLF, a final CRLF added.
std::string canonical(std::string_view in) {
  std::string out;
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '\n' && (i == 0 || in[i - 1] != '\r')) out += '\r';
    out += in[i];
  }
  if (!out.empty() && !out.ends_with("\r\n")) out += out.back() == '\r' ? "\n" : "\r\n";
  return out;
}

void expect_crlf_only(std::string_view wire) {
  for (std::size_t i = 0; i < wire.size(); ++i) {
    if (wire[i] == '\n') {
      ASSERT_TRUE(i > 0 && wire[i - 1] == '\r') << "bare LF at " << i;
    }
  }
}

std::size_t longest_line(std::string_view wire) {
  std::size_t longest = 0, pos = 0;
  while (pos < wire.size()) {
    std::size_t end = wire.find("\r\n", pos);
    if (end == std::string_view::npos) end = wire.size();
    longest = std::max(longest, end - pos);
    pos = end + 2;
  }
  return longest;
}

TEST(BodyEncoder, CleanBodyIsOneViewOfTheInput) {
  std::string body = "Subject: hi\r\n\r\nclean text\r\nno dots\r\n";
  std::vector<std::string_view> spans{body};
  BodyEncoder encoder(spans, BodyEncoder::Mode::data, 998);
  OutputBatch out;
  encoder.produce(out, static_cast<std::size_t>(-1));
  ASSERT_TRUE(encoder.done());
  EXPECT_FALSE(encoder.changed_anything());
  ASSERT_EQ(out.segments().size(), 2u);  // the body itself (not copied) and ".\r\n"
  EXPECT_EQ(out.segments()[0].data(), body.data());
  EXPECT_EQ(out.segments()[0].size(), body.size());
  EXPECT_EQ(out.segments()[1], ".\r\n");
}

// A spool file with LF line endings: every line gets a CRLF. Short lines are gathered into a few
// copy buffers (one iovec each) instead of two segments per line; long clean runs stay views.
TEST(BodyEncoder, BareLfBodyIsAFewCopiedSegments) {
  std::string line = std::string(76, 'x') + "\n";
  std::string body;
  while (body.size() < 100 * 1024) body += line;
  std::vector<std::string_view> spans{body};
  BodyEncoder encoder(spans, BodyEncoder::Mode::data, 998);
  OutputBatch out;
  encoder.produce(out, static_cast<std::size_t>(-1));
  ASSERT_TRUE(encoder.done());
  EXPECT_LE(out.segments().size(), 8u);
  EXPECT_EQ(out.flatten(), canonical(body) + ".\r\n");

  // CRLF text with a dotted line every 40 lines: the runs between them are views of the input.
  std::string crlf;
  for (int i = 0; i < 400; ++i) crlf += (i % 40 == 20 ? "." : "") + std::string(76, 'y') + "\r\n";
  std::vector<std::string_view> crlf_spans{crlf};
  BodyEncoder stuffed(crlf_spans, BodyEncoder::Mode::data, 998);
  OutputBatch stuffed_out;
  stuffed.produce(stuffed_out, static_cast<std::size_t>(-1));
  std::size_t views = 0;
  for (std::string_view segment : stuffed_out.segments())
    if (segment.data() >= crlf.data() && segment.data() < crlf.data() + crlf.size()) ++views;
  EXPECT_EQ(views, 11u);
  EXPECT_EQ(unstuff(stuffed_out.flatten()), crlf);
}

TEST(BodyEncoderProperty, LargeRandomBodiesRoundTripAcrossCopyBuffers) {
  std::mt19937 rng(20261204);
  const std::string alphabet = "..\n\n\r abcdefghijklmnopqrstuvwxyz";
  for (int round = 0; round < 30; ++round) {
    std::string body;
    std::size_t length = 50'000 + rng() % 150'000;
    bool long_lines = round % 3 == 0;
    for (std::size_t i = 0; i < length; ++i) {
      char c = alphabet[rng() % alphabet.size()];
      if (long_lines && (c == '\n' || c == '.') && rng() % 50 != 0) c = 'q';
      body += c;
    }
    std::vector<std::string_view> spans;
    std::string_view rest = body;
    while (!rest.empty()) {
      std::size_t cut = 1 + rng() % std::min<std::size_t>(rest.size(), 70'000);
      spans.push_back(rest.substr(0, cut));
      rest.remove_prefix(cut);
    }
    auto mode = round % 2 ? BodyEncoder::Mode::bdat : BodyEncoder::Mode::data;
    std::string wire = encode(spans, mode, 0, 1 + rng() % 40'000);
    if (mode == BodyEncoder::Mode::data)
      EXPECT_EQ(unstuff(wire), canonical(body)) << "round " << round;
    else
      EXPECT_EQ(wire, canonical(body)) << "round " << round;
  }
}

TEST(BodyEncoder, StuffingLineEndingsAndTerminator) {
  EXPECT_EQ(encode({".\n..\nx"}, BodyEncoder::Mode::data, 998), "..\r\n...\r\nx\r\n.\r\n");
  EXPECT_EQ(encode({""}, BodyEncoder::Mode::data, 998), ".\r\n");
  EXPECT_EQ(encode({"a\r"}, BodyEncoder::Mode::data, 998), "a\r\n.\r\n");
  EXPECT_EQ(encode({"a\r", "\nb\n"}, BodyEncoder::Mode::data, 998), "a\r\nb\r\n.\r\n");
  EXPECT_EQ(encode({"a\n", ".b\n"}, BodyEncoder::Mode::data, 998), "a\r\n..b\r\n.\r\n");
  EXPECT_EQ(encode({".a\n"}, BodyEncoder::Mode::bdat, 998), ".a\r\n");
}

TEST(BodyEncoder, LongLinesBrokenWithCrLfSpace) {
  EXPECT_EQ(encode({"abcdefghij\n"}, BodyEncoder::Mode::data, 4), "abcd\r\n efg\r\n hij\r\n.\r\n");
}

TEST(BodyEncoderProperty, RandomBodiesRoundTrip) {
  std::mt19937 rng(20261121);
  const std::string alphabet = "..\n\n\r ab\xc3\xa9xyz-";
  for (int round = 0; round < 2000; ++round) {
    std::string body;
    std::size_t length = rng() % 300;
    for (std::size_t i = 0; i < length; ++i) body += alphabet[rng() % alphabet.size()];
    // Random span boundaries, random production piece sizes.
    std::vector<std::string_view> spans;
    std::string_view rest = body;
    while (!rest.empty()) {
      std::size_t cut = 1 + rng() % (rest.size());
      spans.push_back(rest.substr(0, cut));
      rest.remove_prefix(cut);
    }
    std::string wire = encode(spans, BodyEncoder::Mode::data, 0, 1 + rng() % 64);
    expect_crlf_only(wire);
    // A lone CR that is not before LF stays as it is (Postfix does not touch it).
    ASSERT_EQ(unstuff(wire), canonical(body)) << "round " << round;

    // With a line limit: no line longer than the limit, and unfolding gives the input back
    // (these inputs have no line that starts with a space).
    std::string no_space_starts;
    for (std::size_t i = 0; i < body.size(); ++i) {
      bool line_start = i == 0 || body[i - 1] == '\n';
      no_space_starts += (line_start && body[i] == ' ') ? 'y' : body[i];
    }
    std::size_t limit = 5 + rng() % 40;
    std::string limited = encode({no_space_starts}, BodyEncoder::Mode::data, limit, 7);
    expect_crlf_only(limited);
    ASSERT_LE(longest_line(limited), limit);
    std::string unfolded = unstuff(limited);
    for (std::size_t at; (at = unfolded.find("\r\n ")) != std::string::npos;) {
      unfolded.erase(at, 3);
    }
    ASSERT_EQ(unfolded, canonical(no_space_starts)) << "round " << round;
  }
}

// The encoder's rules written out plainly, one line at a time, for one span: a leading "." doubled
// (DATA), a CR before the LF ends the line and is not counted, a line over the limit broken with
// CRLF SPACE where it reaches it, every line ending CRLF.
std::string model_encode(std::string_view in, BodyEncoder::Mode mode, std::size_t limit) {
  bool data = mode == BodyEncoder::Mode::data;
  std::string out;
  std::size_t pos = 0;
  while (pos < in.size()) {
    std::size_t newline = in.find('\n', pos);
    bool ended = newline != std::string_view::npos;
    std::string_view line = in.substr(pos, (ended ? newline : in.size()) - pos);
    std::size_t line_length = 0;
    if (data && !line.empty() && line[0] == '.') {
      out += '.';
      line_length = 1;
    }
    bool has_cr = ended && !line.empty() && line.back() == '\r';
    std::string_view content = has_cr ? line.substr(0, line.size() - 1) : line;
    while (limit > 0 && line_length + content.size() > limit) {
      std::size_t take = limit > line_length ? limit - line_length : 0;
      out += content.substr(0, take);
      content.remove_prefix(take);
      out += "\r\n ";
      line_length = 1;
    }
    out += content;
    if (ended) {
      out += "\r\n";
      pos = newline + 1;
    } else {
      out += line.back() == '\r' ? "\n" : "\r\n";
      pos = in.size();
    }
  }
  if (data) out += ".\r\n";
  return out;
}

// Bodies with long stretches between line ends, so that whole 32-byte blocks are copied (the
// vector copy) and lines end in the middle of blocks, first in them and last in them.
TEST(BodyEncoderProperty, MatchesTheModelLineByLine) {
  std::mt19937 rng(20261205);
  const std::size_t limits[] = {0, 2, 3, 31, 32, 33, 63, 64, 65, 78, 200, 998};
  for (int round = 0; round < 3000; ++round) {
    std::string body = round % 2 ? "x\n" : "";  // a bare LF first: the encoder copies from there
    std::size_t length = rng() % 2500;
    unsigned newline_odds = 1 + static_cast<unsigned>(rng() % 120);
    while (body.size() < length) {
      unsigned pick = rng() % 1000;
      if (pick < 1000 / newline_odds)
        body += (rng() % 3 == 0) ? "\r\n" : "\n";
      else if (pick < 1000 / newline_odds + 15)
        body += '.';
      else if (pick < 1000 / newline_odds + 25)
        body += '\r';
      else
        body += static_cast<char>('a' + rng() % 26);
    }
    std::size_t limit = limits[rng() % std::size(limits)];
    auto mode = round % 3 == 0 ? BodyEncoder::Mode::bdat : BodyEncoder::Mode::data;
    std::size_t piece = rng() % 4 == 0 ? 1 + rng() % 300 : static_cast<std::size_t>(-1);
    ASSERT_EQ(encode({body}, mode, limit, piece), model_encode(body, mode, limit))
        << "round " << round << ", limit " << limit;
  }
}

// ---- 8BIT→7BIT --------------------------------------------------------------------------------

std::string convert(std::string_view message, DowngradeResult* out = nullptr) {
  DowngradeResult r = downgrade_to_7bit(message, {});
  std::string text = r.output.flatten();
  if (out) *out = std::move(r);
  return text;
}

TEST(MimeDowngrade, SevenBitMessageIsUnchangedAndNotCopied) {
  std::string m = "Subject: x\r\n\r\nplain ascii\r\n";
  DowngradeResult r = downgrade_to_7bit(m, {});
  EXPECT_FALSE(r.converted);
  ASSERT_EQ(r.output.segments().size(), 1u);
  EXPECT_EQ(r.output.segments()[0].data(), m.data());
}

TEST(MimeDowngrade, SinglePart8bitBecomesQuotedPrintable) {
  DowngradeResult r;
  std::string out = convert(
      "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
      "Content-Transfer-Encoding: 8bit\r\nSubject: x\r\n\r\nK\xc3\xa4se = cheese\r\n",
      &r);
  EXPECT_TRUE(r.converted);
  EXPECT_EQ(out,
            "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
            "Content-Transfer-Encoding: quoted-printable\r\nSubject: x\r\n\r\n"
            "K=C3=A4se =3D cheese\r\n");
}

TEST(MimeDowngrade, UnlabelledEightBitIsConvertedToo) {
  // Postfix 3.7 would send this unchanged; the part is labelled 7bit but holds 8-bit bytes.
  std::string out = convert(
      "MIME-Version: 1.0\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: 7bit\r\n\r\n"
      "caf\xc3\xa9\r\n");
  EXPECT_EQ(out,
            "MIME-Version: 1.0\r\nContent-Type: text/plain\r\n"
            "Content-Transfer-Encoding: quoted-printable\r\n\r\ncaf=C3=A9\r\n");
  // A message with no MIME headers at all gets them, so the encoding can be declared.
  EXPECT_EQ(convert("Subject: x\n\ncaf\xc3\xa9\n"),
            "Subject: x\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=unknown-8bit\r\n"
            "Content-Transfer-Encoding: quoted-printable\r\n\ncaf=C3=A9\r\n");
}

TEST(MimeDowngrade, MultipartPartsConvertedOneByOne) {
  std::string out = convert(
      "MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=\"b1\"\r\n"
      "Content-Transfer-Encoding: 8bit\r\n\r\n"
      "preamble\r\n--b1\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
      "\xe9t\xe9\r\n--b1\r\nContent-Type: text/html\r\n\r\n<p>ascii</p>\r\n--b1--\r\nepilogue\r\n");
  EXPECT_EQ(out,
            "MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=\"b1\"\r\n"
            "Content-Transfer-Encoding: 7bit\r\n\r\n"
            "preamble\r\n--b1\r\nContent-Type: text/plain\r\n"
            "Content-Transfer-Encoding: quoted-printable\r\n\r\n=E9t=E9\r\n--b1\r\n"
            "Content-Type: text/html\r\n\r\n<p>ascii</p>\r\n--b1--\r\nepilogue\r\n");
}

TEST(MimeDowngrade, MessageRfc822IsRecursed) {
  std::string out = convert(
      "Content-Type: multipart/mixed; boundary=o\n\n--o\nContent-Type: message/rfc822\n\n"
      "Subject: inner\nContent-Type: text/plain\nContent-Transfer-Encoding: 8bit\n\n\xff\n--o--\n");
  EXPECT_EQ(out,
            "Content-Type: multipart/mixed; boundary=o\n\n--o\nContent-Type: message/rfc822\n\n"
            "Subject: inner\nContent-Type: text/plain\nContent-Transfer-Encoding: "
            "quoted-printable\r\n\n=FF\n--o--\n");
}

TEST(MimeDowngrade, WhatCannotBeConvertedIsSentAsIsWithANote) {
  DowngradeResult r;
  std::string in =
      "Subject: Gr\xc3\xbc\xc3\x9f"
      "e\r\nContent-Type: message/partial; id=x; number=1\r\n\r\n"
      "\xff\xfe\r\n";
  EXPECT_EQ(convert(in, &r), in);
  EXPECT_FALSE(r.fatal);
  EXPECT_EQ(r.notes,
            (std::vector<std::string>{"8-bit data in a message header was sent as is",
                                      "8-bit data in a message/partial part was sent as is"}));
}

TEST(MimeDowngrade, NestingBeyondTheLimitIsFatal) {
  std::string m;
  for (int i = 0; i < 5; ++i) m += "Content-Type: message/rfc822\n\n";
  m += "\xff\n";
  DowngradeResult r =
      downgrade_to_7bit(m, MimeLimits{.boundary_length_limit = 2048, .nesting_limit = 3});
  EXPECT_TRUE(r.fatal);
  EXPECT_EQ(r.error, "MIME nesting exceeds safety limit");
}

TEST(QuotedPrintable, LineLengthTrailingWhitespaceAndRoundTrip) {
  std::string long_line(200, '\xe9');
  std::string encoded = quoted_printable_encode(long_line + " \t\nx \n");
  EXPECT_LE(longest_line(encoded), 76u);
  // No encoded line may end in a blank (RFC 2045 6.7 rule 3): the last one is encoded.
  EXPECT_EQ(encoded.find(" \r\n"), std::string::npos);
  EXPECT_EQ(encoded.find("\t\r\n"), std::string::npos);
  EXPECT_NE(encoded.find(" =09\r\n"), std::string::npos);
  EXPECT_EQ(quoted_printable_decode(encoded), long_line + " \t\r\nx \r\n");
}

// A random MIME tree: multiparts of leaves with random 8-bit or 7-bit bodies, some message/rfc822.
struct Generated {
  std::string message;
  std::vector<std::string> leaf_bodies;  // in document order
};

std::string random_text(std::mt19937& rng, bool eight_bit) {
  const std::string seven = "abc xyz.=\t-\n\n";
  const std::string eight = "\xc3\xa9\xff\x80 ";
  std::string out;
  std::size_t n = 1 + rng() % 200;
  for (std::size_t i = 0; i < n; ++i) {
    bool high = eight_bit && rng() % 4 == 0;
    const std::string& pool = high ? eight : seven;
    out += pool[rng() % pool.size()];
  }
  if (rng() % 3 == 0) out += std::string(120 + rng() % 1200, 'L');  // a long line
  return out;
}

void generate_entity(std::mt19937& rng, int depth, Generated& g, std::string& out) {
  int kind = depth >= 3 ? 0 : static_cast<int>(rng() % 3);
  if (kind == 1) {
    std::string boundary = "b";
    boundary += std::to_string(depth);
    boundary += '-';
    boundary += std::to_string(rng() % 1000);
    out += "Content-Type: multipart/mixed; boundary=\"" + boundary + "\"\n\n";
    int parts = 1 + static_cast<int>(rng() % 3);
    for (int p = 0; p < parts; ++p) {
      out += "--" + boundary + "\n";
      generate_entity(rng, depth + 1, g, out);
      out += "\n";
    }
    out += "--" + boundary + "--\n";
  } else if (kind == 2) {
    out += "Content-Type: message/rfc822\n\nSubject: nested\n";
    generate_entity(rng, depth + 1, g, out);
  } else {
    static const char* labels[] = {"8bit", "7bit", "binary", nullptr};
    const char* label = labels[rng() % 4];
    out += "Content-Type: text/plain\n";
    if (label) out += std::string("Content-Transfer-Encoding: ") + label + "\n";
    out += "\n";
    std::string body = random_text(rng, rng() % 2 == 0);
    while (!body.empty() && body.back() == '\n') body.pop_back();  // the delimiter owns the LF
    g.leaf_bodies.push_back(body);
    out += body;
  }
}

// Walks the converted output by the boundaries the generator used, decoding every leaf.
void collect_leaves(std::string_view entity, std::vector<std::string>& leaves) {
  std::size_t split = entity.find("\r\n\r\n");
  std::size_t lf_split = entity.find("\n\n");
  std::size_t header_end, body_start;
  if (split != std::string_view::npos && (lf_split == std::string_view::npos || split < lf_split)) {
    header_end = split;
    body_start = split + 4;
  } else {
    header_end = lf_split;
    body_start = lf_split + 2;
  }
  std::string_view headers = entity.substr(0, header_end);
  std::string_view body = entity.substr(std::min(body_start, entity.size()));
  std::size_t b = headers.find("boundary=\"");
  if (headers.find("multipart/") != std::string_view::npos && b != std::string_view::npos) {
    std::size_t start = b + 10;
    std::string boundary(headers.substr(start, headers.find('"', start) - start));
    std::string delimiter = "--" + boundary;
    std::size_t pos = body.find(delimiter);
    while (pos != std::string_view::npos) {
      std::size_t part_start = body.find('\n', pos) + 1;
      if (body.substr(pos, delimiter.size() + 2) == delimiter + "--") break;
      std::size_t next = body.find("\n" + delimiter, part_start);
      std::string_view part = body.substr(part_start, next - part_start);
      if (part.ends_with("\r")) part.remove_suffix(1);
      collect_leaves(part, leaves);
      pos = next + 1;
    }
  } else if (headers.find("message/rfc822") != std::string_view::npos) {
    collect_leaves(body.substr(body.find('\n') + 1), leaves);  // skip "Subject: nested"
  } else if (headers.find("quoted-printable") != std::string_view::npos) {
    leaves.push_back(quoted_printable_decode(body));
  } else {
    leaves.push_back(std::string(body));
  }
}

std::string crlf(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\n' && (i == 0 || s[i - 1] != '\r')) out += '\r';
    out += s[i];
  }
  return out;
}

TEST(MimeDowngradeProperty, ConvertedPartsDecodeToTheOriginalAndTheWireIsClean) {
  std::mt19937 rng(7);
  for (int round = 0; round < 500; ++round) {
    Generated g;
    std::string message = "Subject: generated\nMIME-Version: 1.0\n";
    generate_entity(rng, 0, g, message);
    DowngradeResult r = downgrade_to_7bit(message, {});
    ASSERT_FALSE(r.fatal);
    std::string converted = r.output.flatten();
    EXPECT_FALSE(has_8bit(converted)) << "round " << round;

    std::vector<std::string> leaves;
    collect_leaves(converted.substr(converted.find("MIME-Version: 1.0\n") + 18), leaves);
    ASSERT_EQ(leaves.size(), g.leaf_bodies.size()) << "round " << round << "\n" << converted;
    for (std::size_t i = 0; i < leaves.size(); ++i) {
      ASSERT_EQ(crlf(leaves[i]), crlf(g.leaf_bodies[i])) << "round " << round << " leaf " << i;
    }
    // Through the DATA encoder: CRLF only, no line over 998.
    std::string wire = encode({converted}, BodyEncoder::Mode::data, 998);
    expect_crlf_only(wire);
    ASSERT_LE(longest_line(wire), 998u);
  }
}

}  // namespace
}  // namespace ringrelay::proto
