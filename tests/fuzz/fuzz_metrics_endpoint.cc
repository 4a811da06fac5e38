// Fuzzes what the metrics endpoint reads and writes: the HTTP request line (no crash; a parsed
// request has a method without spaces and a path starting with '/' without '?'; a refusal says
// why), and the exposition of a site named by the input (every label value escaped: each sample
// is one line, its quotes balanced, so a hostile MX name cannot forge a series).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "engine/metrics/http_request.hh"
#include "engine/metrics/metrics_exposition.hh"

namespace {

// A sample line: name, optional {labels} with every value quoted and escaped, a space, a value.
bool well_formed_sample(std::string_view line) {
  std::size_t i = 0;
  while (i < line.size() && line[i] != '{' && line[i] != ' ') ++i;
  if (i == 0 || i == line.size()) return false;
  if (line[i] == '{') {
    ++i;
    for (;;) {
      while (i < line.size() && line[i] != '=') ++i;
      if (i + 1 >= line.size() || line[i + 1] != '"') return false;
      i += 2;
      while (i < line.size() && line[i] != '"') {
        if (line[i] == '\\') ++i;
        ++i;
      }
      if (i >= line.size()) return false;
      ++i;  // the closing quote
      if (i < line.size() && line[i] == ',') {
        ++i;
        continue;
      }
      if (i >= line.size() || line[i] != '}') return false;
      ++i;
      break;
    }
  }
  return i < line.size() && line[i] == ' ' && i + 1 < line.size();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace ringrelay::engine;
  std::string_view input(reinterpret_cast<const char*>(data), size);
  std::string error;
  auto request = parse_http_request_line(input, error);
  if (!request) {
    if (error.empty()) std::abort();
  } else {
    if (request->method.empty() || request->method.find(' ') != std::string::npos) std::abort();
    if (request->path.empty() || request->path.front() != '/') std::abort();
    if (request->path.find('?') != std::string::npos) std::abort();
  }
  std::size_t head = http_head_length(input);
  if (head > input.size() || (head > 0 && input[head - 1] != '\n')) std::abort();

  MetricsView view;
  SiteState site;
  site.name = std::string(input.substr(0, 300));
  site.source = std::string(input.substr(input.size() > 300 ? 300 : input.size(), 64));
  view.sites.push_back(site);
  view.version = std::string(input.substr(0, 40));
  std::string text = render_metrics(view);
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string::npos) std::abort();  // every line ends
    std::string_view line(text.data() + start, end - start);
    if (!line.starts_with("# ") && !well_formed_sample(line)) std::abort();
    start = end + 1;
  }
  return 0;
}
