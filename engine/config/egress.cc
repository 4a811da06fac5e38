// Reading egress_source_maps and egress_pool_maps.
#include "engine/config/egress.hh"

#include <sys/socket.h>

#include "engine/config/config_values.hh"
#include "engine/config/lookup_table.hh"
#include "proto/ascii.hh"

namespace ringrelay::engine {
namespace {

bool good_name(std::string_view name) {
  if (name.empty() || name.size() > kEgressNameLimit) return false;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.';
    if (!ok) return false;
  }
  return true;
}

constexpr std::string_view kNameRule = "letters, digits, '-', '_' and '.', at most 64";

}  // namespace

const EgressSource* EgressSettings::source(std::string_view name) const {
  for (const EgressSource& s : sources) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

const EgressPool* EgressSettings::pool(std::string_view name) const {
  auto it = pools.find(name);
  return it == pools.end() ? nullptr : &it->second;
}

std::optional<EgressSource> parse_egress_source(std::string name, std::string_view value,
                                                std::string& error) {
  EgressSource source;
  source.name = std::move(name);
  if (!good_name(source.name)) {
    error = "source name \"" + source.name + "\": expected " + std::string(kNameRule);
    return std::nullopt;
  }
  for (const std::string& word : split_list(value)) {
    std::size_t equals = word.find('=');
    std::string key = word.substr(0, equals);
    std::string text = equals == std::string::npos ? std::string() : word.substr(equals + 1);
    if (key == "address" || key == "address6") {
      int family = key == "address" ? AF_INET : AF_INET6;
      std::optional<ServerAddress>& field = family == AF_INET ? source.address : source.address6;
      auto parsed = numeric_address(text, 0);
      if (!parsed || parsed->family() != family || field) {
        error = "\"" + word + "\": expected " + key + "= once, with an " +
                (family == AF_INET ? "IPv4" : "IPv6") + " address";
        return std::nullopt;
      }
      field = std::move(parsed);
    } else if (key == "helo" && !text.empty() && source.helo.empty() && text.size() <= 255 &&
               text.find_first_of("\r\n\t <>") == std::string::npos) {
      source.helo = text;
    } else {
      error = "\"" + word + "\": expected address=IPv4, address6=IPv6 and helo=NAME, each once";
      return std::nullopt;
    }
  }
  if (!source.address && !source.address6) {
    error = "source " + source.name + ": expected address=IPv4 and/or address6=IPv6";
    return std::nullopt;
  }
  return source;
}

EgressSettings egress_settings(const Config& c) {
  EgressSettings e;
  e.retry_time = std::chrono::seconds(c.seconds("egress_source_retry_time"));
  for (const std::string& spec : c.list("egress_source_maps")) {
    for (const TableEntry& entry : read_lookup_table(spec)) {
      std::string error;
      auto source = parse_egress_source(entry.key, entry.value, error);
      if (!source) throw ConfigError(entry.where + ": " + error);
      if (e.source(source->name) != nullptr) continue;  // the first table's entry wins
      if (e.sources.size() >= kEgressSourceLimit) {
        throw ConfigError(entry.where + ": more than " + std::to_string(kEgressSourceLimit) +
                          " egress sources");
      }
      e.sources.push_back(std::move(*source));
    }
  }
  for (const std::string& spec : c.list("egress_pool_maps")) {
    for (const TableEntry& entry : read_lookup_table(spec)) {
      if (!good_name(entry.key)) {
        throw ConfigError(entry.where + ": pool name \"" + entry.key + "\": expected " +
                          std::string(kNameRule));
      }
      if (e.pools.contains(entry.key)) continue;
      EgressPool pool;
      for (const std::string& word : split_list(entry.value)) {
        std::size_t colon = word.find(':');
        std::string name = proto::ascii_lower(word.substr(0, colon));
        std::optional<std::int64_t> weight = 1;
        if (colon != std::string::npos) weight = parse_integer(word.substr(colon + 1));
        const EgressSource* source = e.source(name);
        if (source == nullptr) {
          throw ConfigError(entry.where + ": \"" + word +
                            "\": no such source in egress_source_maps");
        }
        if (!weight || *weight < 1 || *weight > kEgressWeightLimit) {
          throw ConfigError(entry.where + ": \"" + word +
                            "\": a weight is a whole number from 1 to " +
                            std::to_string(kEgressWeightLimit));
        }
        std::size_t index = static_cast<std::size_t>(source - e.sources.data());
        for (const EgressPool::Member& m : pool.members) {
          if (m.source == index)
            throw ConfigError(entry.where + ": source " + name + " listed twice");
        }
        pool.members.push_back({index, static_cast<unsigned>(*weight)});
      }
      if (pool.members.empty()) {
        throw ConfigError(entry.where + ": pool " + entry.key +
                          ": expected its sources, \"SOURCE[:WEIGHT] ...\"");
      }
      e.pools.emplace(entry.key, std::move(pool));
    }
  }
  for (std::size_t i = 0; i < e.sources.size(); ++i) {
    if (!e.pools.contains(e.sources[i].name)) e.pools[e.sources[i].name].members.push_back({i, 1});
  }
  e.default_pool = c.value("default_egress_pool");
  if (!e.default_pool.empty() && e.pool(e.default_pool) == nullptr) {
    throw ConfigError("default_egress_pool = " + e.default_pool +
                      ": no such pool or source in egress_pool_maps or egress_source_maps");
  }
  return e;
}

}  // namespace ringrelay::engine
