// TLS security levels: names, and which cached connection may serve which request.
#include <gtest/gtest.h>

#include "tls/security_level.hh"

namespace ringrelay::tls {
namespace {

TEST(SecurityLevel, NamesRoundTrip) {
  for (auto name :
       {"none", "may", "encrypt", "dane", "dane-only", "fingerprint", "verify", "secure"}) {
    auto level = parse_security_level(name);
    ASSERT_TRUE(level.has_value()) << name;
    EXPECT_EQ(name_of(*level), name);
  }
  EXPECT_FALSE(parse_security_level("paranoid").has_value());
}

TEST(SecurityLevel, CachedConnectionsNeverServeAStricterPolicy) {
  using L = SecurityLevel;
  EXPECT_TRUE(satisfies(L::encrypt, L::may));
  EXPECT_TRUE(satisfies(L::verify, L::encrypt));
  EXPECT_TRUE(satisfies(L::secure, L::secure));
  EXPECT_FALSE(satisfies(L::may, L::encrypt));  // "may" may have stayed plaintext
  EXPECT_FALSE(satisfies(L::none, L::may));
  EXPECT_FALSE(satisfies(L::encrypt, L::verify));
  EXPECT_FALSE(satisfies(L::verify, L::secure));  // a different name check
  EXPECT_FALSE(satisfies(L::fingerprint, L::verify));
  EXPECT_FALSE(satisfies(L::encrypt, L::none));
}

}  // namespace
}  // namespace ringrelay::tls
