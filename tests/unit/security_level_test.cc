// TLS security levels: names.
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

}  // namespace
}  // namespace ringrelay::tls
