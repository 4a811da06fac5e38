// Puts a message body on the wire: bare LF becomes CRLF, lines longer than smtp_line_length_limit
// are broken with CRLF SPACE (as Postfix does), and for DATA a leading "." is doubled and the body
// ends with CRLF.CRLF. Long unchanged runs are views into the input (the clean case is one memchr
// scan and one view); short runs between insertions are gathered into copy buffers.
// For BDAT (RFC 3030) nothing is stuffed; the caller frames the chunks this produces.
#pragma once

#include <cstddef>
#include <string_view>
#include <vector>

#include "proto/output_batch.hh"

namespace ringrelay::proto {

class BodyEncoder {
 public:
  enum class Mode { data, bdat };

  // `hold_terminator`: for DATA, stop before the final ".\r\n" (the caller sends terminator()
  // itself, later: Postfix's PIX delay_dotcrlf workaround).
  BodyEncoder(const std::vector<std::string_view>& body, Mode mode, std::size_t line_length_limit,
              bool hold_terminator = false);
  static std::string_view terminator() { return ".\r\n"; }

  // Appends at most about `max_bytes` of encoded output (at least one line's worth) to `out`.
  // Returns the number of bytes appended. After the last piece (and for DATA, the terminator),
  // done() is true.
  std::size_t produce(OutputBatch& out, std::size_t max_bytes);
  bool done() const { return done_; }

  // Whether the encoder changed anything so far (stuffed, added CRs, broke lines).
  bool changed_anything() const { return changed_; }

 private:
  void finish(OutputBatch& out, std::size_t& produced);
  // The vector copy of whole lines into the open copy buffer, from `cursor` (just after the
  // line-start dot check): advances it and the line state, adds to `produced`; false when it
  // copied nothing (no AVX2, too little input or room, or the line needs the scalar loop).
  bool copy_lines(OutputBatch& out, const char*& cursor, const char* end, std::size_t budget,
                  std::size_t& produced, std::size_t capacity_hint);
  void next_span() {
    ++span_;
    offset_ = 0;
    if (span_ < body_.size()) later_spans_bytes_ -= body_[span_].size();
  }

  const std::vector<std::string_view>& body_;
  Mode mode_;
  std::size_t line_limit_;
  std::size_t span_ = 0;               // current span
  std::size_t offset_ = 0;             // position in the current span
  std::size_t later_spans_bytes_ = 0;  // input bytes in the spans after the current one
  bool at_line_start_ = true;
  bool previous_was_cr_ = false;  // the last byte emitted of the input was '\r'
  bool any_input_ = false;
  std::size_t line_length_ = 0;  // bytes of the current output line, without its CRLF
  bool done_ = false;
  bool changed_ = false;
  bool hold_terminator_ = false;
};

}  // namespace ringrelay::proto
