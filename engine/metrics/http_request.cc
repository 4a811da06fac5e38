// Reading an HTTP request line.
#include "engine/metrics/http_request.hh"

namespace ringrelay::engine {

std::optional<HttpRequestLine> parse_http_request_line(std::string_view head, std::string& error) {
  std::string_view line = head.substr(0, head.find_first_of("\r\n"));
  auto first_space = line.find(' ');
  if (first_space == std::string_view::npos || first_space == 0) {
    error = "not an HTTP request line";
    return std::nullopt;
  }
  auto second_space = line.find(' ', first_space + 1);
  if (second_space == std::string_view::npos ||
      line.substr(second_space + 1).substr(0, 5) != "HTTP/") {
    error = "not an HTTP request line";
    return std::nullopt;
  }
  std::string_view target = line.substr(first_space + 1, second_space - first_space - 1);
  if (target.empty() || target.front() != '/') {
    error = "the target is not a path";
    return std::nullopt;
  }
  HttpRequestLine request;
  request.method = std::string(line.substr(0, first_space));
  request.path = std::string(target.substr(0, target.find('?')));
  return request;
}

bool http_head_complete(std::string_view received) {
  return received.find("\r\n\r\n") != std::string_view::npos ||
         received.find("\n\n") != std::string_view::npos;
}

}  // namespace ringrelay::engine
