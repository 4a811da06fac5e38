// Fuzzes the lookup-table readers (regexp:, pcre:, cidr: rules and texthash: source text) with
// arbitrary files: a table either loads or is refused with a ConfigError naming it, and a loaded
// table answers any key without throwing. The first byte picks the type; the rest is the file.
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "engine/config/config.hh"
#include "engine/config/lookup_table.hh"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  static constexpr std::string_view kTypes[] = {"regexp:", "pcre:", "cidr:", "texthash:"};
  std::string_view type = kTypes[data[0] % 4];
  std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  int fd = ::memfd_create("table", MFD_CLOEXEC);
  if (fd < 0 || ::write(fd, text.data(), text.size()) != static_cast<ssize_t>(text.size())) {
    std::abort();
  }
  std::string spec = std::string(type) + "/proc/self/fd/" + std::to_string(fd);
  try {
    ringrelay::engine::LookupTable table(spec);
    // Keys: addresses, a header-like line, and the file's own last line.
    std::string_view last =
        text.substr(text.rfind('\n') == std::string_view::npos ? 0 : text.rfind('\n') + 1);
    for (std::string_view key : {std::string_view("192.0.2.1"), std::string_view("2001:db8::1"),
                                 std::string_view("user@example.com"),
                                 std::string_view("Subject: hello"), last.substr(0, 64)}) {
      (void)table.find(key);
    }
  } catch (const ringrelay::engine::ConfigError& e) {
    if (std::string_view(e.what()).empty()) std::abort();
  }
  ::close(fd);
  return 0;
}
