// Failing loudly: the io_uring feature probe's verdicts, Postfix's words for socket errors, and
// invariants that stop the process instead of letting it deliver with broken state.
#include <gtest/gtest.h>

#include <cerrno>
#include <cstdlib>
#include <vector>

#include "engine/runtime/invariant.hh"
#include "engine/runtime/ring.hh"
#include "engine/runtime/socket_errors.hh"

namespace ringrelay::engine {
namespace {

io_uring_probe* fake_probe(std::vector<std::byte>& storage, const std::vector<int>& supported) {
  storage.assign(sizeof(io_uring_probe) + 256 * sizeof(io_uring_probe_op), std::byte{0});
  auto* probe = reinterpret_cast<io_uring_probe*>(storage.data());
  probe->last_op = 255;
  probe->ops_len = 255;
  for (int op : supported) probe->ops[op].flags = IO_URING_OP_SUPPORTED;
  return probe;
}

TEST(IoUringProbe, ThisKernelHasEverything) {
  Ring ring(8);  // throws, naming what is missing, on a kernel that lacks something
  SUCCEED();
}

TEST(IoUringProbe, AKernelWithoutMsgRingIsRefusedWithTheReason) {
  std::vector<std::byte> storage;
  std::vector<int> all;
  for (int op = 0; op < IORING_OP_LAST; ++op) all.push_back(op);
  EXPECT_EQ(missing_io_uring_features(*fake_probe(storage, all)), "");
  std::erase(all, IORING_OP_MSG_RING);
  std::erase(all, IORING_OP_SEND_ZC);
  EXPECT_EQ(missing_io_uring_features(*fake_probe(storage, all)),
            "MSG_RING (waking other shards), Linux 6.0 features (multishot receive)");
}

TEST(SocketErrors, PostfixWordsForConnectErrors) {
  EXPECT_EQ(connect_error_words(ECONNREFUSED), "Connection refused");
  EXPECT_EQ(connect_error_words(ECANCELED), "Connection timed out");  // smtp_connect_timeout
  EXPECT_EQ(connect_error_words(ETIMEDOUT), "Connection timed out");
  EXPECT_EQ(connect_error_words(EHOSTUNREACH), "No route to host");
  EXPECT_EQ(connect_error_words(ENETUNREACH), "Network is unreachable");
  EXPECT_EQ(connect_error_words(EADDRNOTAVAIL), "Cannot assign requested address");
  EXPECT_EQ(connect_error_words(ENOENT), "No such file or directory");
}

TEST(SocketErrors, OnlyPassingErrorsAreRetried) {
  EXPECT_TRUE(transfer_error_is_passing(EINTR));
  EXPECT_TRUE(transfer_error_is_passing(EAGAIN));
  EXPECT_TRUE(transfer_error_is_passing(ENOBUFS));
  EXPECT_FALSE(transfer_error_is_passing(ECONNRESET));
  EXPECT_FALSE(transfer_error_is_passing(EPIPE));
  EXPECT_EQ(transfer_error_words(ECONNRESET), "Connection reset by peer");
}

TEST(InvariantDeathTest, ABrokenInvariantStopsTheProcessSayingWhere) {
  int active = 0;
  EXPECT_DEATH(RINGRELAY_CHECK(active > 0, "active counts"),
               "invariant broken at .*fail_loudly_test.cc:[0-9]+: active counts");
}

}  // namespace
}  // namespace ringrelay::engine
