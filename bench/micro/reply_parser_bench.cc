// Reply parsing throughput: a typical EHLO reply and a pipelined batch of short replies, fed the
// way a socket delivers them (whole reads) and byte by byte (the worst split).
#include <benchmark/benchmark.h>

#include <string>

#include "proto/reply_parser.hh"

namespace {

using ringrelay::proto::Reply;
using ringrelay::proto::ReplyParser;

const std::string kEhlo =
    "250-mx.example.com Hello relay.example.net [192.0.2.10]\r\n250-SIZE 52428800\r\n"
    "250-8BITMIME\r\n250-PIPELINING\r\n250-CHUNKING\r\n250-STARTTLS\r\n250-ENHANCEDSTATUSCODES\r\n"
    "250-DSN\r\n250 SMTPUTF8\r\n";

std::string pipelined_batch() {
  std::string wire = "250 2.1.0 Ok\r\n";
  for (int i = 0; i < 50; ++i) wire += "250 2.1.5 Ok\r\n";
  return wire + "354 End data with <CR><LF>.<CR><LF>\r\n";
}

void parse_in_pieces(benchmark::State& state, const std::string& wire, size_t piece) {
  ReplyParser parser;
  Reply reply;
  size_t replies = 0;
  for (auto _ : state) {
    std::string_view all = wire;
    while (!all.empty()) {
      std::string_view input = all.substr(0, piece);
      all.remove_prefix(input.size());
      while (parser.parse(input, reply) == ReplyParser::Status::reply) ++replies;
    }
    benchmark::DoNotOptimize(reply);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * wire.size()));
  state.counters["replies/s"] =
      benchmark::Counter(static_cast<double>(replies), benchmark::Counter::kIsRate);
}

void BM_ReplyParse_Ehlo(benchmark::State& state) {
  parse_in_pieces(state, kEhlo, kEhlo.size());
}
void BM_ReplyParse_PipelinedBatch(benchmark::State& state) {
  static const std::string wire = pipelined_batch();
  parse_in_pieces(state, wire, wire.size());
}
void BM_ReplyParse_ByteByByte(benchmark::State& state) {
  parse_in_pieces(state, kEhlo, 1);
}

BENCHMARK(BM_ReplyParse_Ehlo);
BENCHMARK(BM_ReplyParse_PipelinedBatch);
BENCHMARK(BM_ReplyParse_ByteByByte);

}  // namespace
