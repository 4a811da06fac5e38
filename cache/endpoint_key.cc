// Printing and hashing of connection-cache keys.
#include "cache/endpoint_key.hh"

namespace ringrelay::cache {

std::string EndpointKey::to_string() const {
  std::string text = address + ":" + std::to_string(port);
  if (!source_address.empty()) text += " from=" + source_address;
  text += " helo=" + helo_name;
  if (!sasl_identity.empty()) text += " sasl=" + sasl_identity;
  return text;
}

std::size_t EndpointKeyHash::operator()(const EndpointKey& key) const noexcept {
  std::hash<std::string> h;
  std::size_t seed = h(key.address) ^ (std::size_t{key.port} << 1);
  for (const std::string* part : {&key.source_address, &key.helo_name, &key.sasl_identity}) {
    seed ^= h(*part) + 0x9e3779b97f4a7c15ULL + (seed << 6) + (seed >> 2);
  }
  return seed;
}

}  // namespace ringrelay::cache
