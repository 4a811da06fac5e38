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

std::size_t http_head_length(std::string_view received) {
  auto crlf = received.find("\r\n\r\n");
  auto lf = received.find("\n\n");
  std::size_t end = std::string_view::npos;
  if (crlf != std::string_view::npos) end = crlf + 4;
  if (lf != std::string_view::npos && (end == std::string_view::npos || lf + 2 < end)) end = lf + 2;
  return end == std::string_view::npos ? 0 : end;
}

}  // namespace ringrelay::engine
