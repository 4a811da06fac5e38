// dns/mx_plan: ordering by preference with shuffled equal preferences, address-family preference,
// the address limit that keeps both families, and truncation at this host's own preference.
#include "dns/mx_plan.hh"

#include <gtest/gtest.h>

namespace ringrelay::dns {
namespace {

Target target(const std::string& host, const std::string& address, unsigned preference) {
  return Target{host, address, preference, 25, 0};
}

std::vector<std::string> addresses(const std::vector<Target>& targets) {
  std::vector<std::string> out;
  for (const auto& t : targets) out.push_back(t.address);
  return out;
}

TEST(MxPlan, SortsByPreferenceAndShufflesEqualOnes) {
  std::mt19937 random(42);
  PlanOptions options;
  int a_first = 0;
  for (int i = 0; i < 1000; ++i) {
    std::vector<Target> t{target("c", "192.0.2.3", 20), target("a", "192.0.2.1", 10),
                          target("b", "192.0.2.2", 10)};
    order_targets(t, options, random);
    ASSERT_EQ(t[2].address, "192.0.2.3");  // the worse preference stays last
    a_first += t[0].address == "192.0.2.1";
  }
  EXPECT_GT(a_first, 400);  // about 500 of 1000
  EXPECT_LT(a_first, 600);
}

TEST(MxPlan, WithoutRandomizationTheOrderIsStable) {
  std::mt19937 random(1);
  PlanOptions options;
  options.randomize = false;
  std::vector<Target> t{target("b", "192.0.2.2", 10), target("a", "192.0.2.1", 10),
                        target("z", "192.0.2.9", 5)};
  order_targets(t, options, random);
  EXPECT_EQ(addresses(t), (std::vector<std::string>{"192.0.2.9", "192.0.2.2", "192.0.2.1"}));
}

TEST(MxPlan, AddressPreferenceOrdersFamiliesWithinAPreference) {
  std::mt19937 random(7);
  PlanOptions options;
  options.randomize = false;
  options.address_preference = AddressPreference::ipv6;
  std::vector<Target> t{target("a", "192.0.2.1", 10), target("a", "2001:db8::1", 10),
                        target("b", "192.0.2.2", 20), target("b", "2001:db8::2", 20)};
  order_targets(t, options, random);
  EXPECT_EQ(addresses(t),
            (std::vector<std::string>{"2001:db8::1", "192.0.2.1", "2001:db8::2", "192.0.2.2"}));
  options.address_preference = AddressPreference::ipv4;
  order_targets(t, options, random);
  EXPECT_EQ(addresses(t),
            (std::vector<std::string>{"192.0.2.1", "2001:db8::1", "192.0.2.2", "2001:db8::2"}));
}

TEST(MxPlan, LimitKeepsBothFamiliesWhenBalancing) {
  PlanOptions options;
  options.address_limit = 3;
  std::vector<Target> t{target("a", "192.0.2.1", 10), target("a", "192.0.2.2", 10),
                        target("a", "192.0.2.3", 10), target("a", "2001:db8::1", 10),
                        target("a", "192.0.2.4", 10)};
  auto balanced = t;
  limit_targets(balanced, options);
  EXPECT_EQ(addresses(balanced),
            (std::vector<std::string>{"192.0.2.1", "192.0.2.2", "2001:db8::1"}));
  options.balance = false;
  limit_targets(t, options);
  EXPECT_EQ(addresses(t), (std::vector<std::string>{"192.0.2.1", "192.0.2.2", "192.0.2.3"}));
}

TEST(MxPlan, ZeroLimitKeepsEverything) {
  PlanOptions options;
  options.address_limit = 0;
  std::vector<Target> t(12, target("a", "192.0.2.1", 10));
  limit_targets(t, options);
  EXPECT_EQ(t.size(), 12u);
}

TEST(MxPlan, SelfIsFoundAndTheListCutBeforeItsPreference) {
  std::vector<Target> t{target("a", "192.0.2.1", 10), target("me", "198.51.100.1", 20),
                        target("c", "192.0.2.3", 20), target("d", "192.0.2.4", 30)};
  auto self = find_self(t, {"127.0.0.1", "198.51.100.1"});
  ASSERT_TRUE(self);
  EXPECT_EQ(*self, 20u);
  truncate_at(t, *self);
  EXPECT_EQ(addresses(t), (std::vector<std::string>{"192.0.2.1"}));
  EXPECT_FALSE(find_self(t, {"127.0.0.1"}));
}

}  // namespace
}  // namespace ringrelay::dns
