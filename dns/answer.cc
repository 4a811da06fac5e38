// The DNS answer walker: header, question, then the answer section's records; CNAME chains are
// followed within the message (at most eight links, so a loop cannot keep us here).
#include "dns/answer.hh"

#include <ares.h>
#include <arpa/inet.h>

#include <map>

namespace ringrelay::dns {
namespace {

constexpr std::size_t header_size = 12;
constexpr std::uint16_t class_in = 1;
constexpr int chain_limit = 8;

class Reader {
 public:
  explicit Reader(std::span<const unsigned char> m) : m_(m) {}

  bool u16(std::size_t at, std::uint16_t& out) const {
    if (at + 2 > m_.size()) return false;
    out = static_cast<std::uint16_t>(m_[at] << 8 | m_[at + 1]);
    return true;
  }
  bool u32(std::size_t at, std::uint32_t& out) const {
    if (at + 4 > m_.size()) return false;
    out = static_cast<std::uint32_t>(m_[at]) << 24 | static_cast<std::uint32_t>(m_[at + 1]) << 16 |
          static_cast<std::uint32_t>(m_[at + 2]) << 8 | m_[at + 3];
    return true;
  }
  // A possibly compressed name at `at`; `length` is what it occupies there.
  bool name(std::size_t at, std::string& out, std::size_t& length) const {
    if (at >= m_.size()) return false;
    char* text = nullptr;
    long used = 0;
    if (ares_expand_name(m_.data() + at, m_.data(), static_cast<int>(m_.size()), &text, &used) !=
        ARES_SUCCESS) {
      return false;
    }
    out = normalize_name(text);
    ares_free_string(text);
    length = static_cast<std::size_t>(used);
    return at + length <= m_.size();
  }
  std::size_t size() const { return m_.size(); }
  const unsigned char* data() const { return m_.data(); }

 private:
  std::span<const unsigned char> m_;
};

bool fail(std::string* error, const char* why) {
  if (error) *error = why;
  return false;
}

}  // namespace

std::string_view record_type_name(RecordType type) {
  switch (type) {
    case RecordType::a:
      return "A";
    case RecordType::cname:
      return "CNAME";
    case RecordType::mx:
      return "MX";
    case RecordType::aaaa:
      return "AAAA";
    case RecordType::tlsa:
      return "TLSA";
  }
  return "?";
}

std::string normalize_name(std::string_view name) {
  std::string out(name);
  while (!out.empty() && out.back() == '.') out.pop_back();
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::optional<Answer> parse_answer(std::span<const unsigned char> message, std::string_view name,
                                   RecordType type, std::string* error) {
  Reader r(message);
  std::uint16_t flags = 0, questions = 0, answers = 0;
  if (message.size() < header_size || !r.u16(2, flags) || !r.u16(4, questions) ||
      !r.u16(6, answers)) {
    fail(error, "message shorter than a DNS header");
    return std::nullopt;
  }
  if ((flags & 0x8000) == 0) {
    fail(error, "not a response");
    return std::nullopt;
  }
  Answer answer;
  answer.rcode = flags & 0x000f;
  answer.authenticated = (flags & 0x0020) != 0;
  std::string asked = normalize_name(name);
  std::size_t at = header_size;
  for (unsigned q = 0; q < questions; ++q) {
    std::string qname;
    std::size_t length = 0;
    if (!r.name(at, qname, length) || at + length + 4 > r.size()) {
      fail(error, "truncated question");
      return std::nullopt;
    }
    at += length + 4;
  }
  struct Found {
    std::string owner;
    Record record;
  };
  std::vector<Found> typed;
  std::map<std::string, std::pair<std::string, std::uint32_t>> aliases;  // owner → target, TTL
  for (unsigned i = 0; i < answers; ++i) {
    std::string owner;
    std::size_t length = 0;
    std::uint16_t rr_type = 0, rr_class = 0, rdlength = 0;
    std::uint32_t ttl = 0;
    if (!r.name(at, owner, length) || !r.u16(at + length, rr_type) ||
        !r.u16(at + length + 2, rr_class) || !r.u32(at + length + 4, ttl) ||
        !r.u16(at + length + 8, rdlength)) {
      fail(error, "truncated resource record");
      return std::nullopt;
    }
    std::size_t rdata = at + length + 10;
    if (rdata + rdlength > r.size()) {
      fail(error, "resource record data past the end of the message");
      return std::nullopt;
    }
    at = rdata + rdlength;
    if (rr_class != class_in) continue;
    ttl = ttl > 0x7fffffffu ? 0 : ttl;  // RFC 2181 8: a TTL with the top bit set means zero
    if (rr_type == static_cast<std::uint16_t>(RecordType::cname)) {
      std::string target;
      std::size_t used = 0;
      if (!r.name(rdata, target, used) || used > rdlength) {
        fail(error, "malformed CNAME record");
        return std::nullopt;
      }
      aliases.emplace(owner, std::make_pair(target, ttl));
      continue;
    }
    if (rr_type != static_cast<std::uint16_t>(type)) continue;
    Record record;
    record.type = type;
    record.ttl = ttl;
    if (type == RecordType::mx) {
      std::size_t used = 0;
      if (rdlength < 3 || !r.u16(rdata, record.preference) ||
          !r.name(rdata + 2, record.host, used) || used + 2 > rdlength) {
        fail(error, "malformed MX record");
        return std::nullopt;
      }
    } else if (type == RecordType::tlsa) {
      // Usage, selector, matching type, then at least one byte of data (RFC 6698 2.1).
      if (rdlength < 4) {
        fail(error, "malformed TLSA record");
        return std::nullopt;
      }
      record.usage = r.data()[rdata];
      record.selector = r.data()[rdata + 1];
      record.mtype = r.data()[rdata + 2];
      record.data.assign(reinterpret_cast<const char*>(r.data() + rdata + 3), rdlength - 3u);
    } else {
      std::size_t want = type == RecordType::a ? 4 : 16;
      if (rdlength != want) {
        fail(error, type == RecordType::a ? "malformed A record" : "malformed AAAA record");
        return std::nullopt;
      }
      char text[INET6_ADDRSTRLEN] = {};
      inet_ntop(type == RecordType::a ? AF_INET : AF_INET6, r.data() + rdata, text, sizeof text);
      record.address = text;
    }
    typed.push_back({owner, std::move(record)});
  }
  std::string current = asked;
  for (int link = 0;; ++link) {
    for (Found& f : typed) {
      if (f.owner == current) answer.records.push_back(std::move(f.record));
    }
    if (!answer.records.empty()) break;
    auto alias = aliases.find(current);
    if (alias == aliases.end()) break;
    if (link == chain_limit) {
      fail(error, "CNAME chain too long");
      return std::nullopt;
    }
    current = alias->second.first;
    answer.cname_ttl = std::min(answer.cname_ttl, alias->second.second);
  }
  answer.canonical_name = current;
  return answer;
}

}  // namespace ringrelay::dns
