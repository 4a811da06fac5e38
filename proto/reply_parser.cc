// The incremental, bounded reply parser and the reply's text forms.
#include "proto/reply_parser.hh"

#include <cstring>

namespace ringrelay::proto {
namespace {

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

// "X.Y.Z" with X in {2,4,5}, Y and Z of 1 to 3 digits (RFC 3463), followed by space or end.
size_t enhanced_status_length(std::string_view text) {
  if (text.size() < 5 || (text[0] != '2' && text[0] != '4' && text[0] != '5') || text[1] != '.') {
    return 0;
  }
  size_t i = 2;
  for (int part = 0; part < 2; ++part) {
    size_t start = i;
    while (i < text.size() && is_digit(text[i]) && i - start < 4) ++i;
    if (i == start || i - start > 3) return 0;
    if (part == 0) {
      if (i >= text.size() || text[i] != '.') return 0;
      ++i;
    }
  }
  if (i < text.size() && text[i] != ' ' && text[i] != '\t') return 0;
  return i;
}

}  // namespace

std::string_view leading_enhanced_status(std::string_view text) {
  return text.substr(0, enhanced_status_length(text));
}

std::string_view Reply::line_text(size_t i) const {
  std::string_view line = lines.at(i);
  return line.size() <= 4 ? std::string_view{} : line.substr(4);
}

std::string Reply::text() const {
  std::string joined;
  for (const auto& line : lines) {
    if (!joined.empty()) joined += ' ';
    joined += line;
  }
  return joined;
}

void ReplyParser::reset() {
  line_.clear();
  discarding_ = false;
  reply_ = Reply{};
}

ReplyParser::Status ReplyParser::parse(std::string_view& input, Reply& out) {
  while (!input.empty()) {
    const char* newline = static_cast<const char*>(std::memchr(input.data(), '\n', input.size()));
    size_t take = newline == nullptr ? input.size() : static_cast<size_t>(newline - input.data());
    size_t room = limits_.max_line_length - line_.size();
    if (take > room) {
      line_.append(input.data(), room);
      discarding_ = true;
    } else {
      line_.append(input.data(), take);
    }
    if (newline == nullptr) {
      input = {};
      return Status::need_more;
    }
    input.remove_prefix(take + 1);
    Status status = finish_line(out);
    if (status != Status::need_more) return status;
  }
  return Status::need_more;
}

ReplyParser::Status ReplyParser::finish_line(Reply& out) {
  if (!line_.empty() && line_.back() == '\r') line_.pop_back();
  if (filter_ && *filter_) {
    if (std::optional<std::string> replaced = (*filter_)(line_)) {
      line_ = std::move(*replaced);
      if (line_.size() > limits_.max_line_length) line_.resize(limits_.max_line_length);
    }
  }
  bool cut = discarding_;
  discarding_ = false;
  // A reply line: three digits, then '-' (more lines follow), ' ' or nothing (the last line).
  bool well_formed = line_.size() >= 3 && is_digit(line_[0]) && is_digit(line_[1]) &&
                     is_digit(line_[2]) && line_[0] >= '2' && line_[0] <= '5' &&
                     (line_.size() == 3 || line_[3] == '-' || line_[3] == ' ');
  if (!well_formed) {
    out = Reply{};
    out.lines.push_back(std::move(line_));
    out.truncated = cut;
    reset();
    return Status::malformed;
  }
  bool last = line_.size() == 3 || line_[3] == ' ';
  // Like Postfix, the last line's code is the reply's code, even if continuation lines differ.
  reply_.code = (line_[0] - '0') * 100 + (line_[1] - '0') * 10 + (line_[2] - '0');
  reply_.truncated |= cut;
  if (reply_.lines.size() < limits_.max_lines) {
    reply_.lines.push_back(std::move(line_));
  } else {
    reply_.truncated = true;
  }
  line_.clear();
  if (!last) return Status::need_more;

  out = std::move(reply_);
  reply_ = Reply{};
  std::string_view status = leading_enhanced_status(out.line_text(out.lines.size() - 1));
  if (!status.empty() && status[0] == static_cast<char>('0' + out.code / 100)) {
    out.enhanced = std::string(status);
    out.enhanced_from_server = true;
  } else {
    out.enhanced = std::to_string(out.code / 100) + ".0.0";
  }
  return Status::reply;
}

}  // namespace ringrelay::proto
