// The shard's ring: set-up with a fallback for older kernels, preparation, and the wait/dispatch
// step. With DEFER_TASKRUN, completions only arrive when this thread enters the kernel with
// GETEVENTS, which io_uring_submit_and_wait_timeout does.
#include "engine/runtime/ring.hh"

#include <cerrno>
#include <stdexcept>
#include <system_error>

namespace ringrelay::engine {
namespace {

// What the engine asks of the kernel's io_uring, with what needs it. IORING_OP_SEND_ZC stands for
// Linux 6.0, which also brought multishot receive (an opcode flag the probe cannot show).
struct NeededOp {
  int op;
  const char* what;
};
constexpr NeededOp kNeededOps[] = {
    {IORING_OP_CONNECT, "connect (outbound connections)"},
    {IORING_OP_ACCEPT, "accept (the feed listener)"},
    {IORING_OP_RECV, "recv (replies, feed requests)"},
    {IORING_OP_SEND, "send (commands, results)"},
    {IORING_OP_SENDMSG, "sendmsg (message bodies, result batches)"},
    {IORING_OP_POLL_ADD, "poll (DNS sockets)"},
    {IORING_OP_POLL_REMOVE, "poll remove"},
    {IORING_OP_ASYNC_CANCEL, "cancel (closing connections)"},
    {IORING_OP_LINK_TIMEOUT, "linked timeouts (smtp_connect_timeout)"},
    {IORING_OP_READ, "read (signals)"},
    {IORING_OP_WRITE, "write (the results journal)"},
    {IORING_OP_MSG_RING, "MSG_RING (waking other shards)"},
    {IORING_OP_SEND_ZC, "Linux 6.0 features (multishot receive)"},
};

// Refuses, with the reason, a kernel whose io_uring lacks an operation the engine needs.
void probe_features(io_uring& ring) {
  io_uring_probe* probe = io_uring_get_probe_ring(&ring);
  if (probe == nullptr) {
    throw std::runtime_error("the kernel's io_uring cannot be probed (Linux 6.0 or later needed)");
  }
  std::string missing = missing_io_uring_features(*probe);
  io_uring_free_probe(probe);
  if (!missing.empty()) {
    throw std::runtime_error("the kernel's io_uring lacks " + missing +
                             " (ringrelay needs Linux 6.0 or later)");
  }
}

// Submitting to make room in a full submission queue: this many tries, then the ring is broken.
constexpr int kSubmitTries = 1000;

}  // namespace

std::string missing_io_uring_features(io_uring_probe& probe) {
  std::string missing;
  for (const NeededOp& needed : kNeededOps) {
    if (!io_uring_opcode_supported(&probe, needed.op)) {
      missing += missing.empty() ? "" : ", ";
      missing += needed.what;
    }
  }
  return missing;
}

Ring::Ring(unsigned entries, unsigned receive_buffers, unsigned buffer_bytes) {
  io_uring_params params{};
  params.flags =
      IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_COOP_TASKRUN;
  int rc = io_uring_queue_init_params(entries, &ring_, &params);
  mode_ = "single-issuer, deferred task run";
  if (rc == -EINVAL) {
    // Kernels before 6.1 lack DEFER_TASKRUN: run without it rather than not at all.
    params = io_uring_params{};
    rc = io_uring_queue_init_params(entries, &ring_, &params);
    mode_ = "plain (kernel without DEFER_TASKRUN)";
  }
  if (rc < 0) {
    throw std::system_error(-rc, std::generic_category(),
                            "io_uring_queue_init(" + std::to_string(entries) + " entries)");
  }
  try {
    probe_features(ring_);
  } catch (...) {
    io_uring_queue_exit(&ring_);
    throw;
  }
  buffers_ = std::make_unique<ProvidedBuffers>(ring_, 1, receive_buffers, buffer_bytes);
}

Ring::~Ring() {
  io_uring_queue_exit(&ring_);
}

io_uring_sqe* Ring::prepare_untracked() {
  io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
  for (int tries = 0; sqe == nullptr; ++tries) {
    int rc = io_uring_submit(&ring_);
    if (tries >= kSubmitTries || (rc < 0 && rc != -EBUSY && rc != -EAGAIN && rc != -EINTR)) {
      throw std::system_error(rc < 0 ? -rc : EBUSY, std::generic_category(),
                              "io_uring_submit: the submission queue stays full");
    }
    sqe = io_uring_get_sqe(&ring_);
  }
  io_uring_sqe_set_data(sqe, nullptr);
  return sqe;
}

io_uring_sqe* Ring::prepare(Completion* completion) {
  io_uring_sqe* sqe = prepare_untracked();
  io_uring_sqe_set_data(sqe, completion);
  return sqe;
}

void Ring::submit_only() {
  io_uring_submit(&ring_);
}

unsigned Ring::run_once(std::chrono::nanoseconds timeout, Timers* turn_clock) {
  if (timeout.count() < 0) timeout = std::chrono::nanoseconds(0);
  __kernel_timespec ts{};
  ts.tv_sec = static_cast<long long>(timeout.count() / 1'000'000'000);
  ts.tv_nsec = static_cast<long long>(timeout.count() % 1'000'000'000);
  io_uring_cqe* cqe = nullptr;
  int rc = io_uring_submit_and_wait_timeout(&ring_, &cqe, 1, &ts, nullptr);
  if (rc < 0 && rc != -ETIME && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY) {
    throw std::system_error(-rc, std::generic_category(), "io_uring_submit_and_wait_timeout");
  }
  if (turn_clock != nullptr) turn_clock->start_turn();
  unsigned dispatched = 0;
  // Handlers may prepare new entries; completions are consumed one by one so that is safe.
  while (io_uring_peek_cqe(&ring_, &cqe) == 0) {
    auto* completion = static_cast<Completion*>(io_uring_cqe_get_data(cqe));
    int result = cqe->res;
    std::uint32_t flags = cqe->flags;
    io_uring_cqe_seen(&ring_, cqe);
    if (completion != nullptr && completion->handler != nullptr) {
      completion->handler(*completion, result, flags);
    }
    ++dispatched;
  }
  return dispatched;
}

}  // namespace ringrelay::engine
