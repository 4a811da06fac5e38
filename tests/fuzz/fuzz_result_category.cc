// Fuzzes the result categories with arbitrary replies, status codes and stages: no crash, every
// result gets one of the documented names, and a sent result is always "delivered".
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "engine/delivery/result_category.hh"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace ringrelay;
  if (size < 3) return 0;
  proto::RecipientResult r;
  r.status = static_cast<proto::DeliveryStatus>(data[0] % 3);
  r.stage = static_cast<proto::Stage>(data[1] % (static_cast<int>(proto::Stage::quit) + 1));
  r.reply_code = data[2] % 2 == 0 ? 0 : 200 + data[2] % 400;
  // The rest: "dsn" up to the first newline, then the reply (or ringrelay's text).
  std::string_view rest(reinterpret_cast<const char*>(data + 3), size - 3);
  auto newline = rest.find('\n');
  r.dsn = std::string(rest.substr(0, newline));
  std::string words(newline == std::string_view::npos ? "" : rest.substr(newline + 1));
  (r.reply_code == 0 ? r.text : r.reply) = words;
  auto category = engine::categorize(r);
  std::string_view name = engine::category_name(category);
  if (name.empty()) std::abort();
  if ((r.status == proto::DeliveryStatus::sent) != (category == engine::ResultCategory::delivered))
    std::abort();
  return 0;
}
