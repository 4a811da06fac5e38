// The shard's ring: set-up with a fallback for older kernels, preparation, and the wait/dispatch
// step. With DEFER_TASKRUN, completions only arrive when this thread enters the kernel with
// GETEVENTS, which io_uring_submit_and_wait_timeout does.
#include "engine/ring.hh"

#include <cerrno>
#include <system_error>

namespace ringrelay::engine {

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
  buffers_ = std::make_unique<ProvidedBuffers>(ring_, 1, receive_buffers, buffer_bytes);
}

Ring::~Ring() {
  io_uring_queue_exit(&ring_);
}

io_uring_sqe* Ring::prepare_untracked() {
  io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
  while (sqe == nullptr) {
    io_uring_submit(&ring_);
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

unsigned Ring::run_once(std::chrono::nanoseconds timeout) {
  if (timeout.count() < 0) timeout = std::chrono::nanoseconds(0);
  __kernel_timespec ts{};
  ts.tv_sec = static_cast<long long>(timeout.count() / 1'000'000'000);
  ts.tv_nsec = static_cast<long long>(timeout.count() % 1'000'000'000);
  io_uring_cqe* cqe = nullptr;
  int rc = io_uring_submit_and_wait_timeout(&ring_, &cqe, 1, &ts, nullptr);
  if (rc < 0 && rc != -ETIME && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY) {
    throw std::system_error(-rc, std::generic_category(), "io_uring_submit_and_wait_timeout");
  }
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
