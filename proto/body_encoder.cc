// The DATA/BDAT body encoder: one memchr per line, views for long unchanged runs, small static
// pieces for what is inserted (".", "\r\n", "\r\n "); short runs between insertions are copied
// into one buffer, so a body with bare LFs is a few segments, not two per line.
#include "proto/body_encoder.hh"

#include <cstring>

namespace ringrelay::proto {
namespace {

constexpr std::string_view kDot = ".";
constexpr std::string_view kCrLf = "\r\n";
constexpr std::string_view kLf = "\n";
constexpr std::string_view kBreak = "\r\n ";
constexpr std::string_view kEndOfData = ".\r\n";
// Unchanged runs shorter than this, between insertions, are copied rather than referred to: for
// the kernel an iovec costs about what copying a few hundred bytes does, and a 100 KiB body with
// bare LFs would otherwise be ~2,700 segments (more than a sendmsg takes at once).
constexpr std::size_t kCopyRunsBelow = 1024;

}  // namespace

BodyEncoder::BodyEncoder(const std::vector<std::string_view>& body, Mode mode,
                         std::size_t line_length_limit, bool hold_terminator)
    : body_(body), mode_(mode), line_limit_(line_length_limit), hold_terminator_(hold_terminator) {
  for (std::string_view span : body_) later_spans_bytes_ += span.size();
  if (!body_.empty()) later_spans_bytes_ -= body_.front().size();
}

std::size_t BodyEncoder::produce(OutputBatch& out, std::size_t max_bytes) {
  std::size_t produced = 0;
  while (!done_ && produced < max_bytes) {
    if (span_ == body_.size()) {
      finish(out, produced);
      break;
    }
    std::string_view span = body_[span_];
    if (offset_ == span.size()) {
      next_span();
      continue;
    }
    any_input_ = true;
    const char* const end = span.data() + span.size();
    const char* cursor = span.data() + offset_;
    // Unchanged bytes accumulate in [run, cursor) and go out as one view when something must be
    // inserted or the span ends: the clean case is one memchr per line and nothing else.
    const char* run = cursor;
    // A copy buffer is sized for what is left of the input, plus room for inserted CRs.
    auto copy_hint = [&](const char* from) {
      std::size_t left = static_cast<std::size_t>(end - from) + later_spans_bytes_;
      return left + left / 32 + 16;
    };
    auto flush = [&](const char* upto) {
      std::string_view bytes(run, static_cast<std::size_t>(upto - run));
      if (bytes.size() < kCopyRunsBelow && (changed_ || out.copy_open()))
        out.add_copy(bytes, copy_hint(run));
      else
        out.add_view(bytes);
      produced += bytes.size();
      run = upto;
    };
    auto insert = [&](std::string_view piece) {
      out.add_piece(piece, copy_hint(run));
      produced += piece.size();
      changed_ = true;
    };
    while (cursor < end && produced + static_cast<std::size_t>(cursor - run) < max_bytes) {
      if (at_line_start_ && mode_ == Mode::data && *cursor == '.') {
        flush(cursor);
        insert(kDot);
        ++line_length_;
      }
      at_line_start_ = false;
      const char* newline = static_cast<const char*>(
          std::memchr(cursor, '\n', static_cast<std::size_t>(end - cursor)));
      std::size_t length = static_cast<std::size_t>((newline ? newline : end) - cursor);
      // Line length counts the bytes before CRLF; a CR right before the LF is the line ending.
      std::size_t content = length;
      if (newline && length > 0 && cursor[length - 1] == '\r') --content;
      if (line_limit_ > 0 && line_length_ + content > line_limit_) {
        // Break where the line reaches the limit, with CRLF SPACE as Postfix does.
        std::size_t take = line_limit_ > line_length_ ? line_limit_ - line_length_ : 0;
        cursor += take;
        flush(cursor);
        insert(kBreak);
        line_length_ = 1;  // the space
        previous_was_cr_ = false;
        continue;
      }
      if (!newline) {
        line_length_ += length;
        previous_was_cr_ = end[-1] == '\r';
        cursor = end;
        break;
      }
      bool has_cr = length > 0 ? cursor[length - 1] == '\r' : previous_was_cr_;
      if (!has_cr) {
        auto bytes = static_cast<std::size_t>(newline - run);
        if (bytes < kCopyRunsBelow && (changed_ || out.copy_open())) {
          // The common case of a body with bare LFs: the line and its CRLF in one copy.
          char* to = out.copy_space(bytes + kCrLf.size(), copy_hint(run));
          std::memcpy(to, run, bytes);
          std::memcpy(to + bytes, kCrLf.data(), kCrLf.size());
          out.commit_copy(bytes + kCrLf.size());
          produced += bytes + kCrLf.size();
          changed_ = true;
        } else {
          flush(newline);
          insert(kCrLf);
        }
        run = newline + 1;  // the bare LF is replaced
      }
      cursor = newline + 1;
      at_line_start_ = true;
      line_length_ = 0;
      previous_was_cr_ = false;
    }
    flush(cursor);
    offset_ = static_cast<std::size_t>(cursor - span.data());
  }
  // Input used up exactly at the limit: finish now, so the caller sees done() with this piece.
  if (!done_) {
    while (span_ < body_.size() && offset_ == body_[span_].size()) next_span();
    if (span_ == body_.size()) finish(out, produced);
  }
  return produced;
}

void BodyEncoder::finish(OutputBatch& out, std::size_t& produced) {
  if (any_input_ && !at_line_start_) {
    // The message did not end with a newline. A lone trailing CR becomes CRLF.
    std::string_view ending = previous_was_cr_ ? kLf : kCrLf;
    out.add_piece(ending, ending.size() + kEndOfData.size());
    produced += ending.size();
    changed_ = true;
  }
  if (mode_ == Mode::data && !hold_terminator_) {
    out.add_piece(kEndOfData, kEndOfData.size());
    produced += kEndOfData.size();
  }
  done_ = true;
}

}  // namespace ringrelay::proto
