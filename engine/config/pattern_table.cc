// Parsing and matching regexp:, pcre: and cidr: tables. Each line becomes a rule (a pattern and
// its result), an "if" that skips to its "endif" when its pattern does not match, or an "endif".
#include "engine/config/pattern_table.hh"

#include <arpa/inet.h>
#include <regex.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstring>
#include <vector>

#include "engine/config/config.hh"
#include "engine/config/lookup_table.hh"
#include "engine/runtime/invariant.hh"

namespace ringrelay::engine {
namespace {

// One compiled pattern. `groups` receives the matched groups ($0 first) when the caller will
// substitute them; a group that did not take part is empty.
class Matcher {
 public:
  virtual ~Matcher() = default;
  virtual bool match(std::string_view key, std::vector<std::string_view>* groups) const = 0;
  virtual int group_count() const = 0;
};

// glibc's regcomp expands repetitions into copies, so stacked ones ("a++++", "(a{200}){200}")
// take memory exponential in their number. POSIX leaves adjacent repetition operators undefined,
// and Postfix users need no counts above 255: both are refused at load instead of exhausting
// memory. Returns the problem, or "".
std::string posix_repetition_problem(std::string_view pattern) {
  bool after_repetition = false;
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    char c = pattern[i];
    if (c == '\\') {  // an escaped character is an atom
      ++i;
      after_repetition = false;
      continue;
    }
    if (c == '[') {  // a bracket expression is an atom; "]" first in it is a member
      std::size_t close =
          pattern.find(']', i + (i + 1 < pattern.size() && pattern[i + 1] == '^' ? 3 : 2));
      if (close == std::string_view::npos) return {};  // regcomp says what is wrong
      i = close;
      after_repetition = false;
      continue;
    }
    bool repetition = c == '*' || c == '+' || c == '?' || c == '{';
    if (repetition && after_repetition) {
      return "adjacent repetition operators (undefined in POSIX regular expressions)";
    }
    if (c == '{') {
      std::size_t close = pattern.find('}', i);
      if (close == std::string_view::npos) return {};
      std::string_view counts = pattern.substr(i + 1, close - i - 1);
      std::size_t start = 0;
      while (start <= counts.size()) {
        std::size_t end = std::min(counts.find(',', start), counts.size());
        std::string_view number = counts.substr(start, end - start);
        if (number.size() > 3 || (number.size() == 3 && number > "255")) {
          return "a repetition count above 255";
        }
        start = end + 1;
      }
      i = close;
    }
    after_repetition = repetition;
  }
  return {};
}

class PosixMatcher final : public Matcher {
 public:
  PosixMatcher(const std::string& pattern, std::string_view flags, const std::string& where) {
    if (std::string problem = posix_repetition_problem(pattern); !problem.empty()) {
      throw ConfigError(where + ": /" + pattern + "/: " + problem);
    }
    int options = REG_EXTENDED | REG_ICASE;  // Postfix's defaults; the flags toggle them
    for (char flag : flags) {
      if (flag == 'i') {
        options ^= REG_ICASE;
      } else if (flag == 'x') {
        options ^= REG_EXTENDED;
      } else if (flag == 'm') {
        options ^= REG_NEWLINE;
      } else {
        throw ConfigError(where + ": unknown regexp flag \"" + std::string(1, flag) +
                          "\" (regexp: tables know i, x and m)");
      }
    }
    if (int error = ::regcomp(&regex_, pattern.c_str(), options); error != 0) {
      char text[256];
      ::regerror(error, &regex_, text, sizeof text);
      throw ConfigError(where + ": /" + pattern + "/: " + text);
    }
  }
  ~PosixMatcher() override { ::regfree(&regex_); }
  PosixMatcher(const PosixMatcher&) = delete;
  PosixMatcher& operator=(const PosixMatcher&) = delete;

  bool match(std::string_view key, std::vector<std::string_view>* groups) const override {
    std::string text(key);  // regexec wants a terminated string
    if (text.find('\0') != std::string::npos) return false;
    std::array<regmatch_t, 10> found{};
    if (::regexec(&regex_, text.c_str(), found.size(), found.data(), 0) != 0) return false;
    if (groups) {
      groups->assign(found.size(), {});
      for (std::size_t i = 0; i < found.size(); ++i) {
        if (found[i].rm_so >= 0) {
          (*groups)[i] = key.substr(static_cast<std::size_t>(found[i].rm_so),
                                    static_cast<std::size_t>(found[i].rm_eo - found[i].rm_so));
        }
      }
    }
    return true;
  }
  int group_count() const override { return static_cast<int>(regex_.re_nsub); }

 private:
  regex_t regex_{};
};

class PcreMatcher final : public Matcher {
 public:
  PcreMatcher(const std::string& pattern, std::string_view flags, const std::string& where) {
    std::uint32_t options = PCRE2_CASELESS;  // Postfix's default; "i" toggles it
    for (char flag : flags) {
      switch (flag) {
        case 'i':
          options ^= PCRE2_CASELESS;
          break;
        case 'm':
          options |= PCRE2_MULTILINE;
          break;
        case 's':
          options |= PCRE2_DOTALL;
          break;
        case 'x':
          options |= PCRE2_EXTENDED;
          break;
        case 'A':
          options |= PCRE2_ANCHORED;
          break;
        case 'E':
          options |= PCRE2_DOLLAR_ENDONLY;
          break;
        case 'U':
          options |= PCRE2_UNGREEDY;
          break;
        case 'X':
          break;  // PCRE_EXTRA: PCRE2 always behaves so; Postfix ignores it too
        default:
          throw ConfigError(where + ": unknown pcre flag \"" + std::string(1, flag) +
                            "\" (pcre: tables know i, m, s, x, A, E, U and X)");
      }
    }
    int error = 0;
    PCRE2_SIZE offset = 0;
    code_ = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(), options,
                          &error, &offset, nullptr);
    if (!code_) {
      PCRE2_UCHAR text[256];
      pcre2_get_error_message(error, text, sizeof text);
      throw ConfigError(where + ": /" + pattern + "/: " + reinterpret_cast<char*>(text) +
                        " at offset " + std::to_string(offset));
    }
    // Compiled to machine code where PCRE2 can (body rules run once per line of every message);
    // where it cannot, the interpreter matches the same way.
    pcre2_jit_compile(code_, PCRE2_JIT_COMPLETE);
    std::uint32_t captures = 0;
    pcre2_pattern_info(code_, PCRE2_INFO_CAPTURECOUNT, &captures);
    captures_ = static_cast<int>(captures);
  }
  ~PcreMatcher() override { pcre2_code_free(code_); }
  PcreMatcher(const PcreMatcher&) = delete;
  PcreMatcher& operator=(const PcreMatcher&) = delete;

  bool match(std::string_view key, std::vector<std::string_view>* groups) const override {
    // Match data per thread (lookups run on every shard at once), grown to the largest pattern.
    pcre2_match_data* data = thread_match_data(static_cast<std::uint32_t>(captures_) + 1);
    int found = pcre2_match(code_, reinterpret_cast<PCRE2_SPTR>(key.data()), key.size(), 0, 0, data,
                            thread_match_context());
    if (found < 0) return false;  // no match, or a matching error (resource limits): no result
    if (groups) {
      PCRE2_SIZE* vector = pcre2_get_ovector_pointer(data);
      groups->assign(static_cast<std::size_t>(captures_) + 1, {});
      for (int i = 0; i < found && i <= captures_; ++i) {
        if (vector[2 * i] != PCRE2_UNSET) {
          (*groups)[static_cast<std::size_t>(i)] =
              key.substr(vector[2 * i], vector[2 * i + 1] - vector[2 * i]);
        }
      }
    }
    return true;
  }
  int group_count() const override { return captures_; }

 private:
  static pcre2_match_data* thread_match_data(std::uint32_t pairs) {
    struct Data {
      pcre2_match_data* data = nullptr;
      std::uint32_t pairs = 0;
      ~Data() { pcre2_match_data_free(data); }
    };
    thread_local Data cached;
    if (cached.pairs < pairs) {
      pcre2_match_data_free(cached.data);
      cached.data = pcre2_match_data_create(pairs, nullptr);
      RINGRELAY_CHECK(cached.data != nullptr, "pcre2 match data");
      cached.pairs = pairs;
    }
    return cached.data;
  }
  // A bound on the work of one match (PCRE2's default is ten times higher): a body line crafted
  // against a backtracking pattern costs at most this, then counts as no match.
  static pcre2_match_context* thread_match_context() {
    struct Context {
      pcre2_match_context* context = pcre2_match_context_create(nullptr);
      Context() { pcre2_set_match_limit(context, kMatchLimit); }
      ~Context() { pcre2_match_context_free(context); }
    };
    thread_local Context cached;
    return cached.context;
  }
  static constexpr std::uint32_t kMatchLimit = 1'000'000;

  pcre2_code* code_ = nullptr;
  int captures_ = 0;
};

// An address block: "192.0.2.0/24", "192.0.2.1", "2001:db8::/32", "[2001:db8::1]".
class CidrMatcher final : public Matcher {
 public:
  CidrMatcher(std::string_view block, const std::string& where) {
    std::string text(block);
    int prefix = -1;
    if (auto slash = text.find('/'); slash != std::string::npos) {
      std::string bits = text.substr(slash + 1);
      text.resize(slash);
      if (bits.empty() || bits.size() > 3 || bits.find_first_not_of("0123456789") != bits.npos) {
        throw ConfigError(where + ": bad network prefix length in \"" + std::string(block) + "\"");
      }
      prefix = std::stoi(bits);
    }
    if (text.size() > 2 && text.front() == '[' && text.back() == ']') {
      text = text.substr(1, text.size() - 2);
    }
    family_ = text.find(':') == std::string::npos ? AF_INET : AF_INET6;
    int width = family_ == AF_INET ? 32 : 128;
    if (::inet_pton(family_, text.c_str(), address_.data()) != 1) {
      throw ConfigError(where + ": \"" + std::string(block) + "\" is not an address or network");
    }
    if (prefix > width) {
      throw ConfigError(where + ": prefix length in \"" + std::string(block) + "\" exceeds " +
                        std::to_string(width));
    }
    prefix_ = prefix < 0 ? width : prefix;
    std::array<unsigned char, 16> network = address_;
    apply_prefix(network);
    if (network != address_) {
      char shown[INET6_ADDRSTRLEN];
      ::inet_ntop(family_, network.data(), shown, sizeof shown);
      throw ConfigError(where + ": non-null host address bits in \"" + std::string(block) +
                        "\", perhaps you should use \"" + shown + "/" + std::to_string(prefix_) +
                        "\" instead");
    }
  }

  bool match(std::string_view key, std::vector<std::string_view>*) const override {
    std::string text(key);
    if (text.size() > 2 && text.front() == '[' && text.back() == ']') {
      text = text.substr(1, text.size() - 2);
    }
    std::array<unsigned char, 16> address{};
    int family = text.find(':') == std::string::npos ? AF_INET : AF_INET6;
    if (family != family_ || ::inet_pton(family, text.c_str(), address.data()) != 1) return false;
    apply_prefix(address);
    return address == address_;
  }
  int group_count() const override { return 0; }

 private:
  void apply_prefix(std::array<unsigned char, 16>& bytes) const {
    int width = family_ == AF_INET ? 4 : 16;
    for (int i = 0; i < width; ++i) {
      int keep = std::clamp(prefix_ - 8 * i, 0, 8);
      bytes[static_cast<std::size_t>(i)] &= static_cast<unsigned char>(0xff00u >> keep);
    }
  }

  int family_ = AF_INET;
  int prefix_ = 32;
  std::array<unsigned char, 16> address_{};
};

struct Rule {
  enum class Kind { result, open_if, endif } kind = Kind::result;
  std::unique_ptr<Matcher> pattern;
  bool negated = false;
  std::unique_ptr<Matcher> unless;  // regexp's "/p1/!/p2/": p1 matches and p2 does not
  std::string result;
  std::string where;            // "file, line N"
  std::size_t after_endif = 0;  // for open_if: where to go on when its pattern does not match
};

// Checks a result's $-references at load: digits only, none beyond the pattern's groups, none
// after a negated pattern (nothing matched to substitute).
void check_substitutions(const Rule& rule, const std::string& where) {
  const std::string& text = rule.result;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '$') continue;
    if (i + 1 < text.size() && text[i + 1] == '$') {
      ++i;
      continue;
    }
    std::size_t start = i + 1, end = start;
    if (start < text.size() && (text[start] == '{' || text[start] == '(')) {
      char close = text[start] == '{' ? '}' : ')';
      end = text.find(close, start);
      if (end == std::string::npos) throw ConfigError(where + ": unbalanced " + text[start]);
      ++start;
    } else {
      while (end < text.size() && text[end] >= '0' && text[end] <= '9') ++end;
    }
    std::string number = text.substr(start, end - start);
    if (number.empty() || number.find_first_not_of("0123456789") != std::string::npos) {
      throw ConfigError(where +
                        ": \"$\" in the result must be followed by a group number (\"$$\" " +
                        "is a dollar sign)");
    }
    if (rule.negated) {
      throw ConfigError(where + ": $" + number + " after a negated pattern: nothing to substitute");
    }
    if (number.size() > 2 || std::stoi(number) > rule.pattern->group_count()) {
      throw ConfigError(where + ": $" + number + " is out of range (the pattern has " +
                        std::to_string(rule.pattern->group_count()) + " groups)");
    }
    i = end < text.size() && (text[end] == '}' || text[end] == ')') ? end : end - 1;
  }
}

std::string substitute(const std::string& text, const std::vector<std::string_view>& groups) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '$') {
      out += text[i];
      continue;
    }
    if (text[i + 1] == '$') {  // checked at load: a '$' is never last
      out += '$';
      ++i;
      continue;
    }
    std::size_t start = i + 1, end = start;
    bool braced = text[start] == '{' || text[start] == '(';
    if (braced) {
      end = text.find(text[start] == '{' ? '}' : ')', start);
      ++start;
    } else {
      while (end < text.size() && text[end] >= '0' && text[end] <= '9') ++end;
    }
    auto number = static_cast<std::size_t>(std::stoi(text.substr(start, end - start)));
    if (number < groups.size()) out += groups[number];
    i = braced ? end : end - 1;
  }
  return out;
}

class RuleTable final : public TableBackend {
 public:
  explicit RuleTable(std::vector<Rule> rules) : rules_(std::move(rules)) {}

  std::optional<std::string> find(std::string_view key) const override {
    std::vector<std::string_view> groups;
    for (std::size_t i = 0; i < rules_.size();) {
      const Rule& rule = rules_[i];
      if (rule.kind == Rule::Kind::endif) {
        ++i;
        continue;
      }
      bool wants_groups = rule.kind == Rule::Kind::result && !rule.negated &&
                          rule.result.find('$') != std::string::npos;
      bool matched = rule.pattern->match(key, wants_groups ? &groups : nullptr) != rule.negated;
      if (matched && rule.unless) matched = !rule.unless->match(key, nullptr);
      if (rule.kind == Rule::Kind::open_if) {
        i = matched ? i + 1 : rule.after_endif;
        continue;
      }
      if (matched) return wants_groups ? substitute(rule.result, groups) : rule.result;
      ++i;
    }
    return std::nullopt;
  }

  std::vector<std::pair<std::string, std::string>> results() const override {
    std::vector<std::pair<std::string, std::string>> all;
    for (const Rule& rule : rules_) {
      if (rule.kind == Rule::Kind::result) all.emplace_back(rule.result, rule.where);
    }
    return all;
  }

 private:
  std::vector<Rule> rules_;
};

// "/pattern/flags" at text[pos]: returns the pattern and flags and moves pos past them.
std::pair<std::string, std::string> delimited_pattern(const std::string& text, std::size_t& pos,
                                                      const std::string& where) {
  char delimiter = text[pos];
  if (std::isalnum(static_cast<unsigned char>(delimiter)) || delimiter == ' ' ||
      delimiter == '\t') {
    throw ConfigError(where + ": expected a pattern in delimiters, as /pattern/");
  }
  std::size_t end = pos + 1;
  while (end < text.size() && text[end] != delimiter) {
    end += text[end] == '\\' && end + 1 < text.size() ? 2 : 1;
  }
  if (end >= text.size()) {
    throw ConfigError(where + ": no closing " + std::string(1, delimiter) + " after the pattern");
  }
  std::string pattern = text.substr(pos + 1, end - pos - 1);
  pos = end + 1;
  std::size_t flags_end = text.find_first_of(" \t!", pos);
  if (flags_end == std::string::npos) flags_end = text.size();
  std::string flags = text.substr(pos, flags_end - pos);
  pos = flags_end;
  return {pattern, flags};
}

std::unique_ptr<Matcher> compile(std::string_view type, const std::string& pattern,
                                 const std::string& flags, const std::string& where) {
  if (type == "pcre") return std::make_unique<PcreMatcher>(pattern, flags, where);
  return std::make_unique<PosixMatcher>(pattern, flags, where);
}

std::string rest_of(const std::string& text, std::size_t pos) {
  std::size_t start = text.find_first_not_of(" \t", pos);
  return start == std::string::npos ? std::string() : text.substr(start);
}

// One line of a regexp: or pcre: table after any "if": the pattern(s) and the result.
Rule regex_rule(std::string_view type, std::string text, const std::string& where) {
  Rule rule;
  std::size_t pos = 0;
  if (text.starts_with("!")) {
    rule.negated = true;
    pos = 1;
  }
  auto [pattern, flags] = delimited_pattern(text, pos, where);
  rule.pattern = compile(type, pattern, flags, where);
  if (pos < text.size() && text[pos] == '!') {
    if (type != "regexp") throw ConfigError(where + ": \"/p1/!/p2/\" is a regexp: table feature");
    ++pos;
    auto [second, second_flags] = delimited_pattern(text, pos, where);
    rule.unless = compile(type, second, second_flags, where);
  }
  if (pos < text.size() && text[pos] != ' ' && text[pos] != '\t') {
    throw ConfigError(where + ": expected white space after the pattern");
  }
  rule.result = rest_of(text, pos);
  return rule;
}

Rule cidr_rule(std::string text, const std::string& where) {
  Rule rule;
  if (text.starts_with("!")) {
    rule.negated = true;
    text.erase(0, 1);
  }
  std::size_t end = text.find_first_of(" \t");
  rule.pattern = std::make_unique<CidrMatcher>(
      std::string_view(text).substr(0, end == std::string::npos ? text.size() : end), where);
  rule.result = end == std::string::npos ? std::string() : rest_of(text, end);
  return rule;
}

}  // namespace

std::unique_ptr<TableBackend> load_pattern_table(std::string_view type, const std::string& path) {
  std::string name = std::string(type) + ":" + path;
  std::vector<Rule> rules;
  std::vector<std::size_t> open_ifs;
  for (const TableLine& line : read_table_lines(path)) {
    std::string where = name + ", line " + std::to_string(line.number);
    const std::string& text = line.text;
    auto keyword = [&](std::string_view word) {
      return text.size() >= word.size() &&
             std::equal(
                 word.begin(), word.end(), text.begin(),
                 [](char a, char b) { return a == std::tolower(static_cast<unsigned char>(b)); }) &&
             (text.size() == word.size() || text[word.size()] == ' ' || text[word.size()] == '\t');
    };
    Rule rule;
    if (keyword("endif")) {
      if (open_ifs.empty()) throw ConfigError(where + ": endif without if");
      rules[open_ifs.back()].after_endif = rules.size() + 1;
      open_ifs.pop_back();
      rule.kind = Rule::Kind::endif;
    } else if (keyword("if")) {
      std::string condition = rest_of(text, 2);
      rule = type == "cidr" ? cidr_rule(condition, where) : regex_rule(type, condition, where);
      if (!rule.result.empty()) {
        throw ConfigError(where + ": an if line takes a pattern and no result");
      }
      rule.kind = Rule::Kind::open_if;
      open_ifs.push_back(rules.size());
    } else {
      rule = type == "cidr" ? cidr_rule(text, where) : regex_rule(type, text, where);
      if (rule.result.empty()) throw ConfigError(where + ": no result after the pattern");
      check_substitutions(rule, where);
    }
    rule.where = where;
    rules.push_back(std::move(rule));
  }
  if (!open_ifs.empty()) {
    throw ConfigError(name + ": an if has no matching endif before the end of the file");
  }
  return std::make_unique<RuleTable>(std::move(rules));
}

}  // namespace ringrelay::engine
