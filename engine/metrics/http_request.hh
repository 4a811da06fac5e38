// The request line of an HTTP/1.x request head, as the metrics endpoint reads it: method and path
// (the query dropped), or why it is not a request. Pure, so that it can be fuzzed.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace ringrelay::engine {

struct HttpRequestLine {
  std::string method;  // "GET"
  std::string path;    // "/metrics", without "?query"
};

// `head` starts with the request line ("GET /metrics HTTP/1.1\r\n..."). nullopt with `error` set
// when it is not METHOD SP TARGET SP HTTP/x.y with a target starting with '/'.
std::optional<HttpRequestLine> parse_http_request_line(std::string_view head, std::string& error);

// The length of the request head at the start of `received`, through its empty line; 0 while
// it is not whole.
std::size_t http_head_length(std::string_view received);

}  // namespace ringrelay::engine
