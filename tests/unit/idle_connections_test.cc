// The connection cache container: take by next hop or by endpoint, most recent first, removal.
#include <gtest/gtest.h>

#include "cache/idle_connections.hh"

namespace ringrelay::cache {
namespace {

EndpointKey endpoint(const std::string& address, std::uint16_t port = 25) {
  return EndpointKey{address, port, "", "relay.example", ""};
}

TEST(IdleConnections, TakeByNexthopOrEndpoint) {
  IdleConnections<int> cache;
  cache.put(1, "example.com", endpoint("192.0.2.1"));
  cache.put(2, "example.com", endpoint("192.0.2.2"));
  cache.put(3, "example.net", endpoint("192.0.2.1"));  // same server, another domain
  EXPECT_EQ(cache.size(), 3u);
  EXPECT_EQ(cache.count_for("example.com"), 2u);
  EXPECT_EQ(cache.take_by_nexthop("example.com"), 2);  // the most recent first
  EXPECT_EQ(cache.take_by_endpoint(endpoint("192.0.2.1")), 3);
  EXPECT_FALSE(cache.take_by_endpoint(endpoint("192.0.2.1", 587)).has_value());
  EXPECT_EQ(cache.take_by_endpoint(endpoint("192.0.2.1")), 1);
  EXPECT_FALSE(cache.take_by_nexthop("example.com").has_value());
  EXPECT_EQ(cache.size(), 0u);
}

TEST(IdleConnections, KeysSeparateWhatIsNotInterchangeable) {
  IdleConnections<int> cache;
  EndpointKey authenticated = endpoint("192.0.2.1");
  authenticated.sasl_identity = "customer-a";
  cache.put(1, "smart.example", authenticated);
  EXPECT_FALSE(cache.take_by_endpoint(endpoint("192.0.2.1")).has_value());
  EndpointKey other_helo = authenticated;
  other_helo.helo_name = "other.example";
  EXPECT_FALSE(cache.take_by_endpoint(other_helo).has_value());
  EXPECT_EQ(cache.take_by_endpoint(authenticated), 1);
}

TEST(IdleConnections, TakeSkipsConnectionsTheRequestDoesNotAccept) {
  IdleConnections<int> cache;
  cache.put(1, "example.com", endpoint("192.0.2.1"));  // say: verified TLS
  cache.put(2, "example.com", endpoint("192.0.2.1"));  // say: plaintext, the warmest
  auto tls_only = [](int handle) { return handle == 1; };
  EXPECT_EQ(cache.take_by_endpoint(endpoint("192.0.2.1"), tls_only), 1);
  EXPECT_FALSE(cache.take_by_nexthop("example.com", tls_only).has_value());
  EXPECT_EQ(cache.size(), 1u);  // the refused one stays cached for requests it does satisfy
  EXPECT_EQ(cache.take_by_nexthop("example.com"), 2);
}

TEST(IdleConnections, RemoveAndReput) {
  IdleConnections<int> cache;
  cache.put(7, "a.example", endpoint("192.0.2.7"));
  cache.put(7, "b.example", endpoint("192.0.2.7"));  // moved: in the cache once
  EXPECT_EQ(cache.size(), 1u);
  EXPECT_FALSE(cache.take_by_nexthop("a.example").has_value());
  EXPECT_TRUE(cache.contains(7));
  EXPECT_TRUE(cache.remove(7));
  EXPECT_FALSE(cache.remove(7));
  EXPECT_FALSE(cache.take_by_nexthop("b.example").has_value());
}

}  // namespace
}  // namespace ringrelay::cache
