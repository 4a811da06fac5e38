// Fuzzes the DATA/BDAT body encoder: arbitrary bytes in arbitrary spans and piece sizes. Checks
// that the wire has CRLF line endings only, no line over the limit, and that unstuffing gives back
// the input (with line endings made CRLF) when no limit applies.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "proto/body_encoder.hh"

using ringrelay::proto::BodyEncoder;
using ringrelay::proto::OutputBatch;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 3) return 0;
  std::size_t limit = data[0] % 4 == 0 ? 0 : 2 + data[0] % 50;
  std::size_t piece = 1 + data[1];
  bool bdat = data[2] & 1;
  std::string_view all(reinterpret_cast<const char*>(data + 3), size - 3);
  std::vector<std::string_view> spans;
  for (std::size_t i = 0; i < all.size(); i += 1 + data[2] / 2) {
    spans.push_back(all.substr(i, 1 + data[2] / 2));
  }
  BodyEncoder encoder(spans, bdat ? BodyEncoder::Mode::bdat : BodyEncoder::Mode::data, limit);
  OutputBatch out;
  for (int guard = 0; !encoder.done(); ++guard) {
    if (guard > 1000000) std::abort();  // must always make progress
    encoder.produce(out, piece);
  }
  std::string wire = out.flatten();
  std::size_t line_length = 0;
  for (std::size_t i = 0; i < wire.size(); ++i) {
    if (wire[i] == '\n') {
      if (i == 0 || wire[i - 1] != '\r') std::abort();
      line_length = 0;
    } else if (wire[i] != '\r' || i + 1 >= wire.size() || wire[i + 1] != '\n') {
      ++line_length;
      if (limit > 0 && line_length > limit + 0) std::abort();
    }
  }
  if (!bdat && (wire.size() < 3 || wire.compare(wire.size() - 3, 3, ".\r\n") != 0)) std::abort();
  if (limit == 0 && !bdat) {
    std::string expected;
    for (std::size_t i = 0; i < all.size(); ++i) {
      if (all[i] == '\n' && (i == 0 || all[i - 1] != '\r')) expected += '\r';
      expected += all[i];
    }
    if (!expected.empty() && expected.back() != '\n')
      expected += expected.back() == '\r' ? "\n" : "\r\n";
    std::string unstuffed;
    std::string_view body(wire.data(), wire.size() - 3);
    std::size_t pos = 0;
    while (pos < body.size()) {
      std::size_t end = body.find("\r\n", pos);
      std::string_view line = body.substr(pos, end - pos);
      if (!line.empty() && line[0] == '.') line.remove_prefix(1);
      unstuffed += line;
      unstuffed += "\r\n";
      pos = end + 2;
    }
    if (unstuffed != expected) std::abort();
  }
  return 0;
}
