// dns/answer: DNS answer messages built byte by byte (compression pointers included) and read
// back: records, TTLs, CNAME chains, the null MX, and malformed messages refused with a reason.
#include "dns/answer.hh"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

namespace ringrelay::dns {
namespace {

// A response with one question and the answer records added to it.
class Message {
 public:
  Message(const std::string& qname, RecordType qtype, unsigned rcode = 0) {
    bytes_ = {0x12, 0x34, 0x81, static_cast<std::uint8_t>(0x80 | rcode), 0, 1, 0, 0, 0, 0, 0, 0};
    question_name_at_ = bytes_.size();
    name(qname);
    u16(static_cast<std::uint16_t>(qtype));
    u16(1);
  }
  // An answer record; an owner of "" points at the question's name (compression).
  Message& record(const std::string& owner, RecordType type, std::uint32_t ttl,
                  const std::vector<std::uint8_t>& rdata) {
    if (owner.empty()) {
      bytes_.push_back(static_cast<std::uint8_t>(0xc0 | question_name_at_ >> 8));
      bytes_.push_back(static_cast<std::uint8_t>(question_name_at_ & 0xff));
    } else {
      name(owner);
    }
    u16(static_cast<std::uint16_t>(type));
    u16(1);
    u16(static_cast<std::uint16_t>(ttl >> 16));
    u16(static_cast<std::uint16_t>(ttl & 0xffff));
    u16(static_cast<std::uint16_t>(rdata.size()));
    bytes_.insert(bytes_.end(), rdata.begin(), rdata.end());
    ++bytes_[7];
    return *this;
  }
  static std::vector<std::uint8_t> encoded(const std::string& n) {
    std::vector<std::uint8_t> out;
    std::size_t start = 0;
    while (start < n.size()) {
      std::size_t dot = n.find('.', start);
      if (dot == std::string::npos) dot = n.size();
      out.push_back(static_cast<std::uint8_t>(dot - start));
      out.insert(out.end(), n.begin() + static_cast<long>(start),
                 n.begin() + static_cast<long>(dot));
      start = dot + 1;
    }
    out.push_back(0);
    return out;
  }
  static std::vector<std::uint8_t> mx(std::uint16_t preference, const std::string& host) {
    std::vector<std::uint8_t> out{static_cast<std::uint8_t>(preference >> 8),
                                  static_cast<std::uint8_t>(preference & 0xff)};
    auto h = encoded(host);
    out.insert(out.end(), h.begin(), h.end());
    return out;
  }
  std::span<const unsigned char> span() const { return {bytes_.data(), bytes_.size()}; }
  std::vector<std::uint8_t>& bytes() { return bytes_; }

 private:
  void name(const std::string& n) {
    auto e = encoded(n);
    bytes_.insert(bytes_.end(), e.begin(), e.end());
  }
  void u16(std::uint16_t v) {
    bytes_.push_back(static_cast<std::uint8_t>(v >> 8));
    bytes_.push_back(static_cast<std::uint8_t>(v & 0xff));
  }
  std::vector<std::uint8_t> bytes_;
  std::size_t question_name_at_ = 0;
};

TEST(DnsAnswer, MxRecordsWithTheirTtlsAndLowerCaseHosts) {
  Message m("Example.TEST", RecordType::mx);
  m.record("", RecordType::mx, 300, Message::mx(20, "MX2.example.test"))
      .record("", RecordType::mx, 60, Message::mx(10, "mx1.example.test"));
  std::string error;
  auto a = parse_answer(m.span(), "example.test.", RecordType::mx, &error);
  ASSERT_TRUE(a) << error;
  EXPECT_EQ(a->rcode, 0u);
  ASSERT_EQ(a->records.size(), 2u);
  EXPECT_EQ(a->records[0].host, "mx2.example.test");
  EXPECT_EQ(a->records[0].preference, 20);
  EXPECT_EQ(a->records[0].ttl, 300u);
  EXPECT_EQ(a->records[1].host, "mx1.example.test");
  EXPECT_EQ(a->records[1].ttl, 60u);
  EXPECT_EQ(a->canonical_name, "example.test");
}

TEST(DnsAnswer, NullMxIsAnEmptyHost) {
  Message m("null.test", RecordType::mx);
  m.record("", RecordType::mx, 60, Message::mx(0, ""));
  auto a = parse_answer(m.span(), "null.test", RecordType::mx);
  ASSERT_TRUE(a);
  ASSERT_EQ(a->records.size(), 1u);
  EXPECT_EQ(a->records[0].host, "");
}

TEST(DnsAnswer, CnameChainIsFollowedAndItsTtlKept) {
  Message m("alias.test", RecordType::a);
  m.record("", RecordType::cname, 30, Message::encoded("middle.test"))
      .record("middle.test", RecordType::cname, 600, Message::encoded("real.test"))
      .record("real.test", RecordType::a, 120, {192, 0, 2, 7})
      .record("other.test", RecordType::a, 120, {192, 0, 2, 99});  // not on the chain
  auto a = parse_answer(m.span(), "alias.test", RecordType::a);
  ASSERT_TRUE(a);
  ASSERT_EQ(a->records.size(), 1u);
  EXPECT_EQ(a->records[0].address, "192.0.2.7");
  EXPECT_EQ(a->canonical_name, "real.test");
  EXPECT_EQ(a->cname_ttl, 30u);
}

TEST(DnsAnswer, AliasWithoutTargetRecordsNamesTheTarget) {
  Message m("alias.test", RecordType::mx);
  m.record("", RecordType::cname, 30, Message::encoded("elsewhere.test"));
  auto a = parse_answer(m.span(), "alias.test", RecordType::mx);
  ASSERT_TRUE(a);
  EXPECT_TRUE(a->records.empty());
  EXPECT_EQ(a->canonical_name, "elsewhere.test");
}

TEST(DnsAnswer, CnameLoopIsRefused) {
  Message m("a.test", RecordType::a);
  m.record("a.test", RecordType::cname, 30, Message::encoded("b.test"))
      .record("b.test", RecordType::cname, 30, Message::encoded("a.test"));
  std::string error;
  EXPECT_FALSE(parse_answer(m.span(), "a.test", RecordType::a, &error));
  EXPECT_EQ(error, "CNAME chain too long");
}

TEST(DnsAnswer, AaaaAndTopBitTtlReadAsZero) {
  Message m("six.test", RecordType::aaaa);
  std::vector<std::uint8_t> loopback(16, 0);
  loopback[15] = 1;
  m.record("", RecordType::aaaa, 0x80000000u, loopback);
  auto a = parse_answer(m.span(), "six.test", RecordType::aaaa);
  ASSERT_TRUE(a);
  ASSERT_EQ(a->records.size(), 1u);
  EXPECT_EQ(a->records[0].address, "::1");
  EXPECT_EQ(a->records[0].ttl, 0u);
}

TEST(DnsAnswer, ResponseCodeIsReported) {
  Message m("nx.test", RecordType::mx, 3);
  auto a = parse_answer(m.span(), "nx.test", RecordType::mx);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->rcode, 3u);
  EXPECT_TRUE(a->records.empty());
}

TEST(DnsAnswer, MalformedMessagesAreRefusedWithTheReason) {
  std::string error;
  Message shortest("x.test", RecordType::a);
  EXPECT_FALSE(parse_answer(shortest.span().first(8), "x.test", RecordType::a, &error));
  EXPECT_EQ(error, "message shorter than a DNS header");

  Message query("x.test", RecordType::a);
  query.bytes()[2] = 0x01;  // QR bit clear
  EXPECT_FALSE(parse_answer(query.span(), "x.test", RecordType::a, &error));
  EXPECT_EQ(error, "not a response");

  Message wrong_length("x.test", RecordType::a);
  wrong_length.record("", RecordType::a, 60, {192, 0, 2});
  EXPECT_FALSE(parse_answer(wrong_length.span(), "x.test", RecordType::a, &error));
  EXPECT_EQ(error, "malformed A record");

  Message cut("x.test", RecordType::mx);
  cut.record("", RecordType::mx, 60, Message::mx(10, "mx.x.test"));
  auto bytes = cut.span();
  EXPECT_FALSE(parse_answer(bytes.first(bytes.size() - 3), "x.test", RecordType::mx, &error));
  EXPECT_EQ(error, "resource record data past the end of the message");

  Message bad_pointer("x.test", RecordType::mx);
  bad_pointer.record("", RecordType::mx, 60, {0, 10, 0xc0, 0xff});  // points past the end
  EXPECT_FALSE(parse_answer(bad_pointer.span(), "x.test", RecordType::mx, &error));
  EXPECT_EQ(error, "malformed MX record");
}

}  // namespace
TEST(DnsAnswer, TlsaRecordsAndTheAuthenticatedDataBit) {
  Message m("_25._tcp.mx.example.test", RecordType::tlsa);
  m.record("", RecordType::tlsa, 300, {3, 1, 1, 0xab, 0xcd})
      .record("", RecordType::tlsa, 300, {2, 0, 2, 0x01});
  auto plain = parse_answer(m.span(), "_25._tcp.mx.example.test", RecordType::tlsa);
  ASSERT_TRUE(plain);
  EXPECT_FALSE(plain->authenticated);
  m.bytes()[3] |= 0x20;  // AD: a validating resolver vouches for it
  std::string error;
  auto a = parse_answer(m.span(), "_25._tcp.mx.example.test", RecordType::tlsa, &error);
  ASSERT_TRUE(a) << error;
  EXPECT_TRUE(a->authenticated);
  ASSERT_EQ(a->records.size(), 2u);
  EXPECT_EQ(a->records[0].usage, 3);
  EXPECT_EQ(a->records[0].selector, 1);
  EXPECT_EQ(a->records[0].mtype, 1);
  EXPECT_EQ(a->records[0].data, std::string("\xab\xcd"));
  EXPECT_EQ(a->records[1].usage, 2);
  EXPECT_EQ(a->records[1].mtype, 2);
  EXPECT_EQ(a->records[1].data.size(), 1u);
}

TEST(DnsAnswer, TlsaRecordWithoutDataIsMalformed) {
  Message m("_25._tcp.mx.example.test", RecordType::tlsa);
  m.record("", RecordType::tlsa, 300, {3, 1, 1});
  std::string error;
  EXPECT_FALSE(parse_answer(m.span(), "_25._tcp.mx.example.test", RecordType::tlsa, &error));
  EXPECT_EQ(error, "malformed TLSA record");
}

}  // namespace ringrelay::dns
