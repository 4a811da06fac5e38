// A tokenizer for RFC 5322 structured header values (atoms, quoted strings, comments, domain
// literals, specials) and a scan over its tokens that picks out each mailbox's addr-spec: the one
// inside angle brackets, or a bare one that parses as local-part "@" domain.
#include "proto/header_addresses.hh"

#include <cstring>

#include "proto/ascii.hh"
#include "proto/envelope.hh"

namespace ringrelay::proto {
namespace {

enum class Kind { atom, quoted, comment, literal, special };

struct Token {
  Kind kind;
  std::size_t offset, length;
  char special = 0;    // for Kind::special
  bool closed = true;  // a quoted string, comment or literal has its closing character
};

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

bool is_special(char c) {
  return c != 0 && std::strchr("()<>[]:;@\\,.\"", c) != nullptr;
}

// Skips a delimited run starting at `i` (the opening character) with backslash escapes; comments
// nest. Returns the position after the closing character, or the end when it is missing.
// `closed` says whether it was found.
std::size_t skip_delimited(std::string_view text, std::size_t i, char open, char close, bool nests,
                           bool& closed) {
  int depth = 0;
  closed = true;
  for (; i < text.size(); ++i) {
    char c = text[i];
    if (c == '\\') {
      ++i;
    } else if (c == open && (nests || depth == 0)) {
      ++depth;
    } else if (c == close) {
      if (--depth == 0) return i + 1;
    }
  }
  closed = false;
  return text.size();
}

std::vector<Token> tokenize(std::string_view text) {
  std::vector<Token> tokens;
  std::size_t i = 0;
  while (i < text.size()) {
    char c = text[i];
    if (is_space(c)) {
      ++i;
    } else if (c == '(' || c == '"' || c == '[') {
      Kind kind = c == '(' ? Kind::comment : c == '"' ? Kind::quoted : Kind::literal;
      char close = c == '(' ? ')' : c == '"' ? '"' : ']';
      bool closed = false;
      std::size_t end = skip_delimited(text, i, c, close, kind == Kind::comment, closed);
      tokens.push_back({kind, i, end - i, 0, closed});
      i = end;
    } else if (is_special(c)) {
      tokens.push_back({Kind::special, i, 1, c});
      ++i;
    } else {
      std::size_t end = i;
      while (end < text.size() && !is_space(text[end]) && !is_special(text[end])) ++end;
      tokens.push_back({Kind::atom, i, end - i});
      i = end;
    }
  }
  return tokens;
}

bool is_word(const Token& t) {
  return t.kind == Kind::atom || t.kind == Kind::quoted;
}
bool is(const Token& t, char special) {
  return t.kind == Kind::special && t.special == special;
}

// The tokens [first, last) without comments, if they read word *("." word) ["@" domain], where
// the domain is atoms joined by dots or a literal: the addr-spec, in internal form.
std::optional<HeaderAddress> addr_spec(std::string_view text, const std::vector<Token>& tokens,
                                       std::size_t first, std::size_t last) {
  std::vector<const Token*> parts;
  for (std::size_t i = first; i < last; ++i) {
    if (tokens[i].kind != Kind::comment) parts.push_back(&tokens[i]);
  }
  if (parts.empty()) return std::nullopt;
  std::string internal;
  std::size_t i = 0;
  auto word_list = [&](bool domain) {
    for (;;) {
      if (i >= parts.size()) return false;
      const Token& t = *parts[i];
      if (domain ? (t.kind != Kind::atom && t.kind != Kind::literal) : !is_word(t)) return false;
      std::string_view raw = text.substr(t.offset, t.length);
      if (!t.closed) return false;
      if (t.kind == Kind::quoted) {
        raw.remove_prefix(1);
        if (!raw.empty() && raw.back() == '"') raw.remove_suffix(1);
        for (std::size_t k = 0; k < raw.size(); ++k) {
          if (raw[k] == '\\' && k + 1 < raw.size()) ++k;
          internal += raw[k];
        }
      } else {
        internal += raw;
      }
      ++i;
      if (i < parts.size() && is(*parts[i], '.')) {
        internal += '.';
        ++i;
        continue;
      }
      return true;
    }
  };
  if (!word_list(false)) return std::nullopt;
  if (i < parts.size() && is(*parts[i], '@')) {
    internal += '@';
    ++i;
    if (!word_list(true)) return std::nullopt;
  }
  if (i != parts.size()) return std::nullopt;
  std::size_t begin = parts.front()->offset;
  std::size_t end = parts.back()->offset + parts.back()->length;
  return HeaderAddress{begin, end - begin, std::move(internal)};
}

constexpr std::string_view kAddressHeaders[] = {"apparently-to",
                                                "bcc",
                                                "cc",
                                                "disposition-notification-to",
                                                "errors-to",
                                                "from",
                                                "mail-followup-to",
                                                "reply-to",
                                                "resent-bcc",
                                                "resent-cc",
                                                "resent-from",
                                                "resent-reply-to",
                                                "resent-sender",
                                                "resent-to",
                                                "return-path",
                                                "return-receipt-to",
                                                "sender",
                                                "to"};

}  // namespace

std::vector<HeaderAddress> find_header_addresses(std::string_view value) {
  std::vector<Token> tokens = tokenize(value);
  std::vector<HeaderAddress> found;
  std::size_t start = 0;  // the current mailbox's first token
  bool angle_seen = false;
  auto end_mailbox = [&](std::size_t at) {
    if (!angle_seen) {
      if (auto a = addr_spec(value, tokens, start, at)) found.push_back(std::move(*a));
    }
    start = at + 1;
    angle_seen = false;
  };
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    const Token& t = tokens[i];
    if (is(t, '<')) {
      std::size_t close = i + 1;
      while (close < tokens.size() && !is(tokens[close], '>')) ++close;
      // An obsolete source route ("<@a,@b:user@c>") goes before the address.
      std::size_t from = i + 1;
      if (from < close && is(tokens[from], '@')) {
        while (from < close && !is(tokens[from], ':')) ++from;
        ++from;
      }
      if (from < close) {
        if (auto a = addr_spec(value, tokens, from, close)) found.push_back(std::move(*a));
      }
      angle_seen = true;
      i = close;
    } else if (is(t, ':')) {
      start = i + 1;  // what came before was a group's name
      angle_seen = false;
    } else if (is(t, ',') || is(t, ';')) {
      end_mailbox(i);
    }
  }
  end_mailbox(tokens.size());
  return found;
}

std::optional<std::string> rewrite_header_addresses(std::string_view value,
                                                    const AddressRewrite& rewrite) {
  std::string out;
  std::size_t copied = 0;
  bool changed = false;
  for (const HeaderAddress& a : find_header_addresses(value)) {
    std::optional<std::string> mapped = rewrite(a.address);
    if (!mapped || *mapped == a.address) continue;
    out.append(value.substr(copied, a.offset - copied));
    out += quote_address(*mapped);
    copied = a.offset + a.length;
    changed = true;
  }
  if (!changed) return std::nullopt;
  out.append(value.substr(copied));
  return out;
}

bool is_address_header(std::string_view name) {
  std::string lower = ascii_lower(trim_blanks(name));
  for (std::string_view known : kAddressHeaders) {
    if (lower == known) return true;
  }
  return false;
}

}  // namespace ringrelay::proto
