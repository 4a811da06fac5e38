// One pass over the message, line by line, in the spirit of Postfix's mime_state: a header section
// (primary, a MIME part's, or an attached message's) until its empty line, then body lines, where
// a line that starts with "--" and an enclosing multipart's boundary opens the next part's headers
// (or, with "--" after it, ends that multipart). Unchanged lines are views into the message.
#include "proto/content_checks.hh"

#include "proto/ascii.hh"
#include "proto/mime_syntax.hh"

namespace ringrelay::proto {
namespace {

constexpr std::size_t kHeaderLimit = 102400;  // header_size_limit: what a header rule sees at most
constexpr std::size_t kRecordLimit = 2048;    // line_length_limit: body rules see records this long

enum class Section { primary, mime_part, nested, body };

// "Name:" at the start: printable characters other than ':' and space, then ':'.
bool is_header(std::string_view line) {
  std::size_t i = 0;
  while (i < line.size() && line[i] > ' ' && line[i] < 127 && line[i] != ':') ++i;
  return i > 0 && i < line.size() && line[i] == ':';
}

// Postfix sends these to mime_header_checks wherever they appear (header_opts' HDR_OPT_MIME).
bool is_mime_header(std::string_view name) {
  std::string lower = ascii_lower(name);
  return lower == "mime-version" || lower == "content-type" ||
         lower == "content-transfer-encoding" || lower == "content-disposition" ||
         lower == "content-description" || lower == "content-id";
}

// What a table's answer means for the header or line it was asked about.
struct Verdict {
  bool drop = false;                // IGNORE, STRIP
  std::optional<std::string> text;  // REPLACE's new text
  std::optional<std::string> prepended;
};

class Walk {
 public:
  Walk(std::string_view message, const ContentRules& rules, const MimeLimits& limits,
       ContentRewrite& out)
      : message_(message), rules_(rules), limits_(limits), out_(out) {}

  void run() {
    std::size_t pos = 0;
    bool walk_parts = rules_.mime_header || rules_.nested_header || rules_.body;
    while (auto line = line_at(message_, pos)) {
      if (section_ == Section::body && !walk_parts) {
        keep(message_.substr(pos));  // nothing looks past the primary headers
        return;
      }
      if (section_ != Section::body) {
        if (line->content.empty()) {
          end_of_headers();
        } else if (is_header(line->content)) {
          pos = header(pos);
          continue;
        } else {
          section_ = Section::body;  // not a header: the body begins without its empty line
          start_boundary_check(*line);
        }
      } else {
        start_boundary_check(*line);
      }
      body_line(*line);
      pos += line->full.size();
    }
  }

 private:
  // The logical header at `pos` (its continuation lines too): checked, rewritten, sent. Returns
  // where the next line starts.
  std::size_t header(std::size_t pos) {
    auto first = line_at(message_, pos);
    std::size_t end = pos + first->full.size();
    std::string logical(first->content);
    while (auto more = line_at(message_, end)) {
      if (more->content.empty() || (more->content[0] != ' ' && more->content[0] != '\t')) break;
      if (logical.size() < kHeaderLimit) {
        logical += '\n';
        logical += more->content;
      }
      end += more->full.size();
    }
    std::string_view raw = message_.substr(pos, end - pos);
    std::string name(trim_blanks(std::string_view(logical).substr(0, logical.find(':'))));
    bool mime = is_mime_header(name);
    if (ascii_lower(name) == "content-type") {
      std::string unfolded;
      for (char c : std::string_view(logical).substr(name.size() + 1)) {
        if (c != '\n') unfolded += c;
      }
      content_type_ = parse_content_type(unfolded);
    }
    const ContentLookup& table = mime                           ? rules_.mime_header
                                 : section_ == Section::primary ? rules_.header
                                 : section_ == Section::nested  ? rules_.nested_header
                                                                : rules_.mime_header;
    std::string_view table_name = mime                           ? "mime_header_checks"
                                  : section_ == Section::primary ? "header_checks"
                                  : section_ == Section::nested  ? "nested_header_checks"
                                                                 : "mime_header_checks";
    std::optional<std::string> text;  // the header as it goes out, when it changed
    if (table) {
      std::string_view key = std::string_view(logical).substr(0, kHeaderLimit);
      if (std::optional<std::string> action = table(key)) {
        Verdict v = interpret(*action, "header", key, table_name);
        if (v.prepended) add(*v.prepended + "\n");
        if (v.drop) {
          out_.changed = true;
          return end;
        }
        if (v.text) text = *v.text + "\n";
      }
    }
    if (rules_.generic && section_ == Section::primary && !mime && is_address_header(name)) {
      std::string_view current = text ? std::string_view(*text) : raw;
      std::size_t colon = current.find(':');
      if (auto value = rewrite_header_addresses(current.substr(colon + 1), rules_.generic)) {
        text = std::string(current.substr(0, colon + 1)) + *value;
      }
    }
    if (text) {
      add(std::move(*text));
    } else {
      keep(raw);
    }
    return end;
  }

  // The empty line after a header section: what comes next follows from its Content-Type.
  void end_of_headers() {
    const ContentType& ct = content_type_;
    if (ct.type == "multipart" && !ct.boundary.empty() &&
        ct.boundary.size() <= limits_.boundary_length_limit &&
        boundaries_.size() < limits_.nesting_limit) {
      boundaries_.push_back({ct.boundary, ct.subtype == "digest"});
      section_ = Section::body;
    } else if (ct.type == "message" && (ct.subtype == "rfc822" || ct.subtype == "global")) {
      section_ = Section::nested;
    } else {
      section_ = Section::body;
    }
    content_type_ = ContentType{};
  }

  // A body line that starts with "--" and an enclosing boundary: the innermost multipart it
  // names becomes current; a new part begins, or with "--" after the boundary, that multipart
  // ends.
  void start_boundary_check(const Line& line) {
    std::string_view text = line.content;
    if (boundaries_.empty() || text.size() <= 2 || !text.starts_with("--")) return;
    for (std::size_t i = boundaries_.size(); i-- > 0;) {
      const std::string& b = boundaries_[i].text;
      if (text.substr(2).starts_with(b)) {
        bool digest = boundaries_[i].digest;
        boundaries_.resize(i + 1);
        if (text.substr(2 + b.size()).starts_with("--")) {
          boundaries_.pop_back();
          section_ = Section::body;
        } else {
          section_ = Section::mime_part;
          content_type_ = ContentType{};
          if (digest) content_type_ = ContentType{"message", "rfc822", ""};
        }
        return;
      }
    }
  }

  void body_line(const Line& line) {
    if (!rules_.body) {
      keep(line.full);
      return;
    }
    std::string_view content = line.content;
    std::string_view ending = line.full.substr(content.size());
    // Long lines are checked in records as Postfix's queue file stores them.
    bool changed = false;
    std::string rebuilt;
    bool dropped_all = true;
    for (std::size_t at = 0; at == 0 || at < content.size(); at += kRecordLimit) {
      std::string_view record = content.substr(at, kRecordLimit);
      std::optional<std::string> action = rules_.body(record);
      Verdict v;
      if (action) v = interpret(*action, "body", record, "body_checks");
      if (v.prepended) {
        add(*v.prepended + "\n");
        changed = true;
      }
      if (v.drop) {
        changed = true;
      } else if (v.text) {
        rebuilt += *v.text;
        changed = true;
        dropped_all = false;
      } else {
        rebuilt += record;
        dropped_all = false;
      }
      if (content.empty()) break;
    }
    if (!changed) {
      keep(line.full);
      return;
    }
    if (dropped_all) {
      out_.changed = true;
      return;
    }
    add(std::move(rebuilt) + std::string(ending.empty() ? "" : "\n"));
  }

  // Postfix's header_body_checks actions for a delivery agent.
  Verdict interpret(std::string_view action, std::string_view where, std::string_view content,
                    std::string_view table) {
    std::size_t space = action.find_first_of(" \t");
    std::string verb = ascii_upper(action.substr(0, space));
    std::string_view text =
        space == std::string_view::npos ? std::string_view() : trim_blanks(action.substr(space));
    std::string parameter = std::string(rules_.parameter_prefix) + "_" + std::string(table);
    std::string shown = std::string(where) + " " + std::string(content.substr(0, 200));
    auto log = [&](std::string_view what) {
      out_.notices.push_back(std::string(what) + ": " + shown +
                             (text.empty() ? "" : ": " + std::string(text)));
    };
    bool header = where == "header";
    Verdict v;
    if (verb == "WARN") {
      log("warning");
    } else if (verb == "INFO") {
      log("info");
    } else if (verb == "REPLACE" || verb == "PREPEND") {
      if (text.empty()) {
        out_.notices.push_back("warning: " + verb + " action without text in " + parameter +
                               " map");
      } else if (header && !is_header(text)) {
        out_.notices.push_back("warning: bad " + verb + " header text \"" +
                               std::string(text.substr(0, 200)) + "\" in " + parameter +
                               " map -- need \"headername: headervalue\"");
      } else {
        log(ascii_lower(verb));
        (verb == "REPLACE" ? v.text : v.prepended) = std::string(text);
      }
    } else if (verb == "STRIP") {
      log("strip");
      v.drop = true;
    } else if (verb == "IGNORE") {
      v.drop = true;  // not logged, as in Postfix
    } else if (verb != "DUNNO" && verb != "OK") {
      out_.notices.push_back("warning: unsupported command in " + parameter +
                             " map: " + std::string(action.substr(0, 100)) +
                             " (a delivery agent takes WARN, INFO, REPLACE, PREPEND, STRIP, " +
                             "IGNORE, DUNNO, OK)");
    }
    return v;
  }

  void keep(std::string_view bytes) { out_.output.add_view(bytes); }
  void add(std::string text) {
    out_.output.add_owned(std::move(text));
    out_.changed = true;
  }

  struct Boundary {
    std::string text;
    bool digest;  // its parts are message/rfc822 unless they say otherwise
  };

  std::string_view message_;
  const ContentRules& rules_;
  const MimeLimits& limits_;
  ContentRewrite& out_;
  Section section_ = Section::primary;
  ContentType content_type_;  // of the header section being read
  std::vector<Boundary> boundaries_;
};

}  // namespace

ContentRewrite apply_content_rules(std::string_view message, const ContentRules& rules,
                                   const MimeLimits& limits) {
  ContentRewrite out;
  Walk(message, rules, limits, out).run();
  if (!out.changed) out.output = OutputBatch{};
  return out;
}

}  // namespace ringrelay::proto
