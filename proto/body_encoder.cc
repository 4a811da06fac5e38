// The DATA/BDAT body encoder: one memchr per line, views for unchanged runs, small static pieces
// for what is inserted (".", "\r\n", "\r\n ").
#include "proto/body_encoder.hh"

#include <cstring>

namespace ringrelay::proto {
namespace {

constexpr std::string_view kDot = ".";
constexpr std::string_view kCrLf = "\r\n";
constexpr std::string_view kLf = "\n";
constexpr std::string_view kBreak = "\r\n ";
constexpr std::string_view kEndOfData = ".\r\n";

}  // namespace

BodyEncoder::BodyEncoder(const std::vector<std::string_view>& body, Mode mode,
                         std::size_t line_length_limit)
    : body_(body), mode_(mode), line_limit_(line_length_limit) {}

std::size_t BodyEncoder::produce(OutputBatch& out, std::size_t max_bytes) {
  std::size_t produced = 0;
  while (!done_ && produced < max_bytes) {
    if (span_ == body_.size()) {
      finish(out, produced);
      break;
    }
    std::string_view span = body_[span_];
    if (offset_ == span.size()) {
      ++span_;
      offset_ = 0;
      continue;
    }
    any_input_ = true;
    const char* start = span.data() + offset_;
    std::size_t left = span.size() - offset_;
    if (at_line_start_ && mode_ == Mode::data && *start == '.') {
      out.add_view(kDot);
      ++produced;
      ++line_length_;
      changed_ = true;
    }
    at_line_start_ = false;
    const char* newline = static_cast<const char*>(std::memchr(start, '\n', left));
    std::size_t run = newline ? static_cast<std::size_t>(newline - start) : left;
    // Line length counts the bytes before CRLF; a trailing CR belongs to the line ending.
    std::size_t content = run;
    if (newline && run > 0 && start[run - 1] == '\r') --content;
    if (line_limit_ > 0 && line_length_ + content > line_limit_) {
      // Break the line where it reaches the limit, with CRLF SPACE as Postfix does.
      std::size_t take = line_limit_ > line_length_ ? line_limit_ - line_length_ : 0;
      out.add_view(std::string_view(start, take));
      out.add_view(kBreak);
      produced += take + kBreak.size();
      offset_ += take;
      line_length_ = 1;  // the space
      previous_was_cr_ = false;
      changed_ = true;
      continue;
    }
    if (!newline) {
      out.add_view(std::string_view(start, run));
      produced += run;
      line_length_ += run;
      previous_was_cr_ = start[run - 1] == '\r';
      offset_ = span.size();
      continue;
    }
    bool has_cr = run > 0 ? start[run - 1] == '\r' : previous_was_cr_;
    if (has_cr) {
      out.add_view(std::string_view(start, run + 1));  // the line with its CRLF, unchanged
      produced += run + 1;
    } else {
      out.add_view(std::string_view(start, run));
      out.add_view(kCrLf);
      produced += run + 2;
      changed_ = true;
    }
    offset_ += run + 1;
    at_line_start_ = true;
    line_length_ = 0;
    previous_was_cr_ = false;
  }
  // Input used up exactly at the limit: finish now, so the caller sees done() with this piece.
  if (!done_) {
    while (span_ < body_.size() && offset_ == body_[span_].size()) {
      ++span_;
      offset_ = 0;
    }
    if (span_ == body_.size()) finish(out, produced);
  }
  return produced;
}

void BodyEncoder::finish(OutputBatch& out, std::size_t& produced) {
  if (any_input_ && !at_line_start_) {
    // The message did not end with a newline. A lone trailing CR becomes CRLF.
    out.add_view(previous_was_cr_ ? kLf : kCrLf);
    produced += previous_was_cr_ ? 1 : 2;
    changed_ = true;
  }
  if (mode_ == Mode::data) {
    out.add_view(kEndOfData);
    produced += kEndOfData.size();
  }
  done_ = true;
}

}  // namespace ringrelay::proto
