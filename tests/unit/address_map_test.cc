// smtp_generic_maps' lookup order (whole address, without extension, local part for local
// domains, @domain), pattern tables asked with whole addresses only, and the forms of an answer.
#include "engine/config/address_map.hh"

#include <gtest/gtest.h>
#include <unistd.h>

namespace ringrelay::engine {
namespace {

AddressMap map_of(std::vector<std::string> specs, std::string delimiter = "+") {
  return AddressMap(load_tables(specs), {"relay.example.net", "localhost"}, delimiter);
}

TEST(AddressMap, PostfixLookupOrder) {
  auto m =
      map_of({"inline:{ {joe@a.example=joseph@b.example}, {ann@a.example=anne@b.example},"
              " {root=admin@b.example}, {@old.example=@new.example} }"});
  EXPECT_EQ(m.map("joe@a.example"), "joseph@b.example");
  EXPECT_EQ(m.map("JOE@A.example"), "joseph@b.example");          // fixed keys fold case
  EXPECT_EQ(m.map("ann+news@a.example"), "anne@b.example");       // the extension is not kept
  EXPECT_EQ(m.map("root@relay.example.net"), "admin@b.example");  // a local domain
  EXPECT_EQ(m.map("root@elsewhere.example"), std::nullopt);       // not local: no local-part lookup
  EXPECT_EQ(m.map("sam+x@old.example"), "sam@new.example");       // @domain keeps the local part
  EXPECT_EQ(m.map("nobody@c.example"), std::nullopt);
}

TEST(AddressMap, WithoutADelimiterThereIsNoExtension) {
  auto m = map_of({"inline:{ {ann@a.example=anne@b.example} }"}, "");
  EXPECT_EQ(m.map("ann+news@a.example"), std::nullopt);
}

TEST(AddressMap, PatternTablesSeeWholeAddressesOnly) {
  char path[] = "/tmp/ringrelay-generic-XXXXXX";
  int fd = ::mkstemp(path);
  ASSERT_GE(fd, 0);
  std::string rules = "/^(.*)@internal\\.example$/ ${1}@example.com\n";
  ASSERT_EQ(::write(fd, rules.data(), rules.size()), static_cast<ssize_t>(rules.size()));
  ::close(fd);
  auto m = map_of({"regexp:" + std::string(path)});
  ::unlink(path);
  EXPECT_EQ(m.map("joe@internal.example"), "joe@example.com");
  EXPECT_EQ(m.map("joe@other.example"), std::nullopt);
}

TEST(AddressMap, AnswersInExternalFormAndLists) {
  auto m = map_of(
      {"inline:{ {a@x.example=\"a b\"@y.example}, {c@x.example=d@y.example, e@y.example} }"});
  EXPECT_EQ(m.map("a@x.example"), "a b@y.example");
  EXPECT_EQ(m.map("c@x.example"), "d@y.example");
}

}  // namespace
}  // namespace ringrelay::engine
