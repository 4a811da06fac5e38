// The DATA/BDAT body encoder: one memchr per line, views for long unchanged runs, small static
// pieces for what is inserted (".", "\r\n", "\r\n "); short runs between insertions are copied
// into one buffer, so a body with bare LFs is a few segments, not two per line. Once it copies,
// whole lines are copied 32 bytes at a time (AVX2, where the CPU has it), CRs and dots inserted
// on the way.
#include "proto/body_encoder.hh"

#include <cstdint>
#include <cstring>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

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

// The vector copy: one 32-byte block a step, the blocks at fixed steps (the next load does not
// wait for this one's newlines). A block is stored whole before it is looked at; after each
// insertion the rest of it is stored again one byte further on, so the output needs slack: the
// block, up to two insertions per newline in it, and the 32 bytes of the last store again.
constexpr std::size_t kBlock = 32;
constexpr std::size_t kRoomPerBlock = 5 * kBlock;

// Where the vector copy is and what it knows about the line it is in.
struct LineCopy {
  const char* in;
  char* out;
  std::size_t line_length;  // as BodyEncoder::line_length_
  bool previous_was_cr;     // as BodyEncoder::previous_was_cr_
  bool inserted;            // a CR or a "." was added
};

#if defined(__x86_64__)
// Copies lines from `s.in` while two whole blocks are input and the output has room before
// `out_end`, inserting a CR before each bare LF and, when `stuff`, a "." before each line that
// starts with one. The scalar loop goes on exactly as it would have: a line that would go over
// `limit` (0: none) is left whole to it, as is a CR last before where the copy stops.
__attribute__((target("avx2"))) void copy_lines_avx2(LineCopy& s, const char* in_end,
                                                     const char* out_end, std::size_t limit,
                                                     bool stuff) {
  const char* const start = s.in;
  const char* block = s.in;
  char* out = s.out;           // where block[0] goes; moves on by one with each insertion
  const char* line_in = s.in;  // the current line's first input byte not yet counted in line_base
  char* line_out = s.out;
  std::size_t line_base = s.line_length;
  // The start of the line after the last insertion: a run of unchanged lines from there that
  // grows to kCopyRunsBelow is left to the scalar loop, which sends it as a view of the input.
  const char* change_in = line_in;
  char* change_out = line_out;
  std::size_t change_base = line_base;
  bool inserted = false;
  if (limit == 0) limit = SIZE_MAX;
  const __m256i newline = _mm256_set1_epi8('\n');
  // Where the current line has gone over the limit by more than a CR's byte.
  auto give_up_at = [&] {
    std::size_t left = limit - std::min(limit, line_base);
    return left < static_cast<std::size_t>(in_end - line_in) ? line_in + left + 1 : in_end;
  };
  const char* give_up = give_up_at();
  auto stop_at = [&](const char* in, char* to, std::size_t length) {
    s = LineCopy{in, to, length, in == start && s.previous_was_cr, inserted};
  };
  while (static_cast<std::size_t>(in_end - block) >= 2 * kBlock &&
         static_cast<std::size_t>(out_end - out) >= kRoomPerBlock) {
    __m256i bytes = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(block));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out), bytes);
    auto newlines =
        static_cast<std::uint32_t>(_mm256_movemask_epi8(_mm256_cmpeq_epi8(bytes, newline)));
    bool no_newline = newlines == 0;
    while (newlines != 0) {
      auto at = static_cast<std::size_t>(__builtin_ctz(newlines));
      newlines &= newlines - 1;
      const char* lf = block + at;
      // As the scalar loop: a CR before the LF ends the line and is not counted; an LF first in
      // what is left of the line takes the CR state from before.
      bool has_cr = lf > start ? lf[-1] == '\r' : s.previous_was_cr;
      std::size_t length = static_cast<std::size_t>(lf - line_in);
      if (line_base + (length > 0 && has_cr ? length - 1 : length) > limit) {
        stop_at(line_in, line_out, line_base);
        return;
      }
      char* after = out + at + 1;
      bool moved = false;
      if (!has_cr) {
        after[-1] = '\r';
        *after++ = '\n';
        moved = true;
      }
      line_base = 0;
      if (stuff && lf[1] == '.') {
        *after++ = '.';
        line_base = 1;
        moved = true;
      }
      line_in = lf + 1;
      line_out = after;
      give_up = give_up_at();
      if (moved) {
        inserted = true;
        out = after - (at + 1);
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(after),
                            _mm256_loadu_si256(reinterpret_cast<const __m256i*>(line_in)));
        change_in = line_in;
        change_out = line_out;
        change_base = line_base;
      } else if (static_cast<std::size_t>(line_in - change_in) >= kCopyRunsBelow) {
        stop_at(change_in, change_out, change_base);
        return;
      }
    }
    block += kBlock;
    out += kBlock;
    // A line going over the limit is the scalar loop's to break: stop as soon as it is sure to,
    // looking only after blocks without a newline, which long lines are made of.
    if (no_newline && block > give_up) {
      stop_at(line_in, line_out, line_base);
      return;
    }
  }
  // Stopped between blocks, in the middle of a line.
  const char* in = block;
  if (in > line_in && in[-1] == '\r') {  // a CRLF is never split between the copy and the loop
    --in;
    --out;
  }
  std::size_t line_length = line_base + static_cast<std::size_t>(in - line_in);
  if (line_length > limit) {
    stop_at(line_in, line_out, line_base);
    return;
  }
  stop_at(in, out, line_length);
}

const bool kHaveAvx2 = __builtin_cpu_supports("avx2");
#endif

}  // namespace

bool BodyEncoder::copy_lines(OutputBatch& out, const char*& cursor, const char* end,
                             std::size_t budget, std::size_t& produced, std::size_t capacity_hint) {
#if defined(__x86_64__)
  if (!kHaveAvx2 || static_cast<std::size_t>(end - cursor) < 2 * kBlock ||
      budget < 2 * kRoomPerBlock)
    return false;
  char* to = out.copy_space(2 * kRoomPerBlock, capacity_hint);
  const char* out_end = to + std::min(out.copy_room(), budget);
  LineCopy s{cursor, to, line_length_, previous_was_cr_, false};
  copy_lines_avx2(s, end, out_end, line_limit_, mode_ == Mode::data);
  if (s.in == cursor) return false;
  auto written = static_cast<std::size_t>(s.out - to);
  out.commit_copy(written);
  produced += written;
  cursor = s.in;
  line_length_ = s.line_length;
  previous_was_cr_ = s.previous_was_cr;
  changed_ = changed_ || s.inserted;
  return true;
#else
  (void)out, (void)cursor, (void)end, (void)budget, (void)produced, (void)capacity_hint;
  return false;
#endif
}

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
      // Copying already (a bare LF was seen, or a stuffed dot): whole lines, a block at a time.
      if (cursor == run && (changed_ || out.copy_open()) &&
          copy_lines(out, cursor, end, max_bytes - produced, produced, copy_hint(cursor))) {
        run = cursor;
        continue;
      }
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
