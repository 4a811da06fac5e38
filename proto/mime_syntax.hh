// The bits of MIME syntax both walks over a message share (8BIT→7BIT conversion and the content
// checks): lines with either line ending, and the Content-Type header's type, subtype and
// boundary.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace ringrelay::proto {

// One line of a text at some position: its content (without CR LF) and its full extent.
struct Line {
  std::string_view content;
  std::string_view full;  // content plus its line ending, if any
};

// The line that starts at `pos`, or nothing at the end of `text`.
std::optional<Line> line_at(std::string_view text, std::size_t pos);

struct ContentType {
  std::string type = "text";  // lower case
  std::string subtype = "plain";
  std::string boundary;  // as given (case matters)
};

// A Content-Type header's value ("multipart/mixed; boundary=\"b\""), unfolded or not.
ContentType parse_content_type(std::string_view value);

}  // namespace ringrelay::proto
