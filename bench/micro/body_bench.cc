// The body path: the DATA encoder's scan over clean text against a plain memchr pass over the same
// bytes (the target: within 2x), the same with many dot-stuffed lines, a body with bare LF line
// ends (as most queue managers store it: converted into a few copy buffers), and 8BIT→7BIT.
#include <benchmark/benchmark.h>

#include <cstring>
#include <random>
#include <string>

#include "proto/body_encoder.hh"
#include "proto/mime_downgrade.hh"

namespace {

using namespace ringrelay::proto;

// A 1 MiB message of 76-character CRLF (or LF) lines; `dots` lines in 100 start with '.'.
std::string text_body(int dots_per_100, const char* ending = "\r\n") {
  std::string body;
  std::mt19937 rng(1);
  int line = 0;
  while (body.size() < (1 << 20)) {
    std::string l(76, 'a');
    for (auto& c : l) c = static_cast<char>('a' + rng() % 26);
    if (line++ % 100 < dots_per_100) l[0] = '.';
    body += l + ending;
  }
  return body;
}

// The reference: one memchr per line over the same bytes, which is what any line scan must do.
void BM_Reference_MemchrLines(benchmark::State& state) {
  std::string body = text_body(0);
  std::size_t lines = 0;
  for (auto _ : state) {
    const char* p = body.data();
    const char* end = p + body.size();
    while (p < end) {
      const char* nl = static_cast<const char*>(std::memchr(p, '\n', end - p));
      if (!nl) break;
      ++lines;
      p = nl + 1;
    }
    benchmark::DoNotOptimize(lines);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * body.size()));
}
BENCHMARK(BM_Reference_MemchrLines);

void encode_bench(benchmark::State& state, int dots, std::size_t limit,
                  const char* ending = "\r\n") {
  std::string body = text_body(dots, ending);
  std::vector<std::string_view> spans{body};
  std::size_t segments = 0;
  for (auto _ : state) {
    BodyEncoder encoder(spans, BodyEncoder::Mode::data, limit);
    OutputBatch out;
    encoder.produce(out, static_cast<std::size_t>(-1));
    segments = out.segments().size();
    benchmark::DoNotOptimize(out.segments().data());
  }
  state.counters["segments"] = static_cast<double>(segments);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * body.size()));
}

void BM_DataEncode_Clean(benchmark::State& state) {
  encode_bench(state, 0, 998);
}
void BM_DataEncode_Clean_NoLineLimit(benchmark::State& state) {
  encode_bench(state, 0, 0);
}
void BM_DataEncode_TenPercentDots(benchmark::State& state) {
  encode_bench(state, 10, 998);
}
void BM_DataEncode_AllDots(benchmark::State& state) {
  encode_bench(state, 100, 998);
}
// Bare LF line ends: every line gets a CRLF, so the output is a copy (in 64 KiB buffers).
void BM_DataEncode_BareLf(benchmark::State& state) {
  encode_bench(state, 0, 998, "\n");
}
// Lines of 64 KiB with bare LFs, broken at 998: each break hands the line back to the scalar
// loop, so the vector copy must not copy on to the line's end before it stops.
void BM_DataEncode_LongLinesBroken(benchmark::State& state) {
  std::string body;
  while (body.size() < (1 << 20)) body += std::string(64 * 1024, 'x') + "\n";
  std::vector<std::string_view> spans{body};
  for (auto _ : state) {
    BodyEncoder encoder(spans, BodyEncoder::Mode::data, 998);
    OutputBatch out;
    encoder.produce(out, static_cast<std::size_t>(-1));
    benchmark::DoNotOptimize(out.segments().data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * body.size()));
}
BENCHMARK(BM_DataEncode_LongLinesBroken);
// The reference for it: one plain copy of the same bytes.
void BM_Reference_Memcpy(benchmark::State& state) {
  std::string body = text_body(0, "\n");
  std::string copy(body.size(), '\0');
  for (auto _ : state) {
    std::memcpy(copy.data(), body.data(), body.size());
    benchmark::DoNotOptimize(copy.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * body.size()));
}
BENCHMARK(BM_DataEncode_Clean);
BENCHMARK(BM_DataEncode_BareLf);
BENCHMARK(BM_Reference_Memcpy);
BENCHMARK(BM_DataEncode_Clean_NoLineLimit);
BENCHMARK(BM_DataEncode_TenPercentDots);
BENCHMARK(BM_DataEncode_AllDots);

// A multipart message with an 8-bit text part (30% non-ASCII bytes) of about 1 MiB.
void BM_Downgrade8BitTo7Bit(benchmark::State& state) {
  std::string part;
  std::mt19937 rng(2);
  while (part.size() < (1 << 20)) {
    std::string l;
    for (int i = 0; i < 72; ++i) {
      l += rng() % 10 < 3 ? static_cast<char>(0xc3) : static_cast<char>('a' + rng() % 26);
    }
    part += l + "\r\n";
  }
  std::string message =
      "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\n"
      "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n" +
      part + "\r\n--b--\r\n";
  for (auto _ : state) {
    DowngradeResult r = downgrade_to_7bit(message, {});
    benchmark::DoNotOptimize(r.output.size());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * message.size()));
}
BENCHMARK(BM_Downgrade8BitTo7Bit);

// The check every 8-bit decision starts with.
void BM_Has8BitScan(benchmark::State& state) {
  std::string body = text_body(0);
  for (auto _ : state) benchmark::DoNotOptimize(has_8bit(body));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * body.size()));
}
BENCHMARK(BM_Has8BitScan);

}  // namespace
