// The 8BIT→7BIT converter: a recursive walk over the MIME structure (headers, multipart by
// boundary, message/rfc822), with quoted-printable for leaf parts that hold 8-bit bytes.
#include "proto/mime_downgrade.hh"

#include "proto/ascii.hh"
#include "proto/mime_syntax.hh"

#include <cstdint>
#include <cstring>
#include <optional>

namespace ringrelay::proto {
namespace {

constexpr char kHex[] = "0123456789ABCDEF";

struct HeaderField {
  std::string_view raw;  // the field with its continuation lines and line endings
  std::string name;      // lower case
  std::string value;     // unfolded
};

struct Headers {
  std::vector<HeaderField> fields;
  std::size_t body_offset = 0;  // where the body starts (after the empty line)
  std::string_view separator;   // the empty line, or empty when there is none
  bool has_8bit = false;
};

Headers parse_headers(std::string_view entity) {
  Headers h;
  std::size_t pos = 0;
  while (auto line = line_at(entity, pos)) {
    if (line->content.empty()) {
      h.separator = line->full;
      h.body_offset = pos + line->full.size();
      return h;
    }
    char first = line->content.front();
    if ((first == ' ' || first == '\t') && !h.fields.empty()) {
      HeaderField& f = h.fields.back();
      f.raw = std::string_view(f.raw.data(), f.raw.size() + line->full.size());
      f.value += ' ';
      f.value += trim_blanks(line->content);
    } else {
      std::size_t colon = line->content.find(':');
      if (colon == std::string_view::npos || colon == 0) break;  // not a header: the body begins
      h.fields.push_back({line->full, ascii_lower(trim_blanks(line->content.substr(0, colon))),
                          std::string(trim_blanks(line->content.substr(colon + 1)))});
    }
    if (has_8bit(line->full)) h.has_8bit = true;
    pos += line->full.size();
  }
  h.body_offset = pos;
  return h;
}

const HeaderField* find_field(const Headers& h, std::string_view name) {
  const HeaderField* found = nullptr;
  for (const auto& f : h.fields) {
    if (f.name == name) found = &f;
  }
  return found;
}

class Converter {
 public:
  Converter(const MimeLimits& limits, DowngradeResult& result) : limits_(limits), result_(result) {}

  void entity(std::string_view text, std::size_t depth, bool digest_part, bool top_level) {
    if (depth > limits_.nesting_limit) {
      if (!result_.fatal) {
        result_.fatal = true;
        result_.error = "MIME nesting exceeds safety limit";
      }
      view(text);
      return;
    }
    Headers headers = parse_headers(text);
    if (headers.has_8bit) note("8-bit data in a message header was sent as is");
    const HeaderField* ct_field = find_field(headers, "content-type");
    ContentType ct;
    if (ct_field) {
      ct = parse_content_type(ct_field->value);
    } else if (digest_part) {
      ct.type = "message";
      ct.subtype = "rfc822";
    }
    const HeaderField* cte_field = find_field(headers, "content-transfer-encoding");
    std::string cte = cte_field ? ascii_lower(trim_blanks(cte_field->value)) : "";
    std::string_view body = text.substr(headers.body_offset);
    bool eight_bit_label = cte == "8bit" || cte == "binary";

    if (ct.type == "multipart" && !ct.boundary.empty() &&
        ct.boundary.size() <= limits_.boundary_length_limit) {
      emit_headers(headers, eight_bit_label ? "7bit" : nullptr, false);
      multipart(body, ct.boundary, depth, ct.subtype == "digest");
      return;
    }
    if (ct.type == "message" && (ct.subtype == "rfc822" || ct.subtype == "global")) {
      emit_headers(headers, eight_bit_label ? "7bit" : nullptr, false);
      entity(body, depth + 1, false, false);
      return;
    }
    bool body_8bit = has_8bit(body);
    if (ct.type == "message" || ct.type == "multipart") {
      // message/partial and message/external-body must stay as they are (RFC 2046 5.2); a
      // multipart without a usable boundary cannot be walked.
      if (body_8bit) note("8-bit data in a " + ct.type + "/" + ct.subtype + " part was sent as is");
      view(text);
      return;
    }
    if (body_8bit && cte != "quoted-printable" && cte != "base64") {
      bool add_mime_headers = top_level && !find_field(headers, "mime-version") && !ct_field;
      emit_headers(headers, "quoted-printable", add_mime_headers);
      owned(quoted_printable_encode(body));
      result_.converted = true;
      return;
    }
    if (body_8bit) note("8-bit data in a " + cte + " encoded part was sent as is");
    view(text);
  }

 private:
  // The headers, with Content-Transfer-Encoding replaced by `new_cte` (added when missing and
  // `new_cte` is quoted-printable); for a non-MIME message, MIME-Version and Content-Type too.
  void emit_headers(const Headers& headers, const char* new_cte, bool add_mime_headers) {
    bool replaced = false;
    for (const auto& field : headers.fields) {
      if (new_cte != nullptr && field.name == "content-transfer-encoding") {
        if (!replaced) owned(std::string("Content-Transfer-Encoding: ") + new_cte + "\r\n");
        replaced = true;
        continue;
      }
      view(field.raw);
    }
    if (new_cte != nullptr && !replaced && std::string_view(new_cte) == "quoted-printable") {
      if (add_mime_headers) {
        owned("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=unknown-8bit\r\n");
      }
      owned(std::string("Content-Transfer-Encoding: ") + new_cte + "\r\n");
    }
    if (headers.separator.empty()) {
      // No empty line ended the headers (a part with no body, or garbage ending them).
      if (headers.fields.empty() || new_cte == nullptr) return;
      owned("\r\n");
    } else {
      view(headers.separator);
    }
  }

  void multipart(std::string_view body, const std::string& boundary, std::size_t depth,
                 bool digest) {
    std::size_t pos = 0;
    std::size_t part_start = std::string_view::npos;  // where the current part's text begins
    bool closed = false;
    while (auto line = line_at(body, pos)) {
      std::string_view content = line->content;
      bool delimiter = false, close = false;
      if (content.size() >= 2 + boundary.size() && content.starts_with("--") &&
          content.substr(2, boundary.size()) == boundary) {
        std::string_view rest = content.substr(2 + boundary.size());
        if (rest.starts_with("--")) {
          close = true;
          rest.remove_prefix(2);
        }
        delimiter = trim_blanks(rest).empty();
      }
      if (!delimiter) {
        pos += line->full.size();
        continue;
      }
      // The line ending before a delimiter belongs to the delimiter (RFC 2046 5.1.1).
      std::size_t end = pos;
      std::size_t ending = 0;
      if (end >= 1 && body[end - 1] == '\n') ending = (end >= 2 && body[end - 2] == '\r') ? 2 : 1;
      if (part_start == std::string_view::npos) {
        view(body.substr(0, pos));  // the preamble, as is
        if (has_8bit(body.substr(0, pos)))
          note("8-bit data in a multipart preamble was sent as is");
      } else {
        std::size_t content_end = std::max(part_start, end - ending);
        entity(body.substr(part_start, content_end - part_start), depth + 1, digest, false);
        view(body.substr(content_end, end - content_end));
      }
      view(line->full);
      pos += line->full.size();
      part_start = pos;
      if (close) {
        closed = true;
        break;
      }
    }
    if (part_start == std::string_view::npos) {
      view(body);  // no delimiter at all: nothing to walk
      if (has_8bit(body)) note("8-bit data in a multipart body without parts was sent as is");
      return;
    }
    std::string_view rest = body.substr(part_start);
    if (closed) {
      view(rest);  // the epilogue
      if (has_8bit(rest)) note("8-bit data in a multipart epilogue was sent as is");
    } else {
      entity(rest, depth + 1, digest, false);  // a missing close delimiter: the last part runs on
    }
  }

  void view(std::string_view bytes) { result_.output.add_view(bytes); }
  void owned(std::string bytes) { result_.output.add_owned(std::move(bytes)); }
  void note(std::string text) {
    for (const auto& n : result_.notes) {
      if (n == text) return;
    }
    result_.notes.push_back(std::move(text));
  }

  const MimeLimits& limits_;
  DowngradeResult& result_;
};

}  // namespace

bool has_8bit(std::string_view bytes) {
  const char* p = bytes.data();
  std::size_t n = bytes.size();
  constexpr std::uint64_t kHigh = 0x8080808080808080ULL;
  while (n >= 8) {
    std::uint64_t word;
    std::memcpy(&word, p, 8);
    if (word & kHigh) return true;
    p += 8;
    n -= 8;
  }
  while (n-- > 0) {
    if (static_cast<unsigned char>(*p++) & 0x80) return true;
  }
  return false;
}

DowngradeResult downgrade_to_7bit(std::string_view message, const MimeLimits& limits) {
  DowngradeResult result;
  Converter(limits, result).entity(message, 0, false, true);
  return result;
}

std::string quoted_printable_encode(std::string_view body) {
  std::string out;
  out.reserve(body.size() + body.size() / 4);
  std::size_t line_length = 0;
  for (std::size_t i = 0; i < body.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(body[i]);
    if (c == '\n') {
      out += "\r\n";
      line_length = 0;
      continue;
    }
    if (c == '\r' && i + 1 < body.size() && body[i + 1] == '\n') continue;  // CRLF: at the LF
    bool at_line_end = i + 1 == body.size() || body[i + 1] == '\n' ||
                       (body[i + 1] == '\r' && i + 2 < body.size() && body[i + 2] == '\n');
    if ((c >= 33 && c <= 126 && c != '=') || ((c == ' ' || c == '\t') && !at_line_end)) {
      out += static_cast<char>(c);
      line_length += 1;
    } else {
      out += '=';
      out += kHex[c >> 4];
      out += kHex[c & 15];
      line_length += 3;
    }
    // Postfix's rule (mime_state.c): past 72 characters, a soft line break, unless the line ends
    // here anyway. Lines stay within 76 characters, and match what Postfix sends byte for byte.
    if (line_length > 72 && !at_line_end) {
      out += "=\r\n";
      line_length = 0;
    }
  }
  return out;
}

std::string quoted_printable_decode(std::string_view encoded) {
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  std::string out;
  std::size_t pos = 0;
  while (auto line = line_at(encoded, pos)) {
    pos += line->full.size();
    std::string_view content = line->content;
    bool has_ending = line->full.size() > content.size();
    bool soft = !content.empty() && content.back() == '=';
    if (soft) content.remove_suffix(1);
    for (std::size_t i = 0; i < content.size(); ++i) {
      if (content[i] == '=' && i + 2 < content.size() && hex(content[i + 1]) >= 0 &&
          hex(content[i + 2]) >= 0) {
        out += static_cast<char>(hex(content[i + 1]) * 16 + hex(content[i + 2]));
        i += 2;
      } else {
        out += content[i];
      }
    }
    if (has_ending && !soft) out += "\r\n";
  }
  return out;
}

}  // namespace ringrelay::proto
