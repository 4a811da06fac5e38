// One io_uring per shard, created in the shard's thread (SINGLE_ISSUER | DEFER_TASKRUN), after a
// probe that refuses a kernel lacking what the engine needs. Operations are caller-owned Completion
// objects embedded in whatever waits for them, so the ring itself allocates nothing per operation;
// an object must not be destroyed while one of its completions is in flight.
#pragma once

#include <liburing.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "engine/runtime/provided_buffers.hh"
#include "engine/runtime/timers.hh"

namespace ringrelay::engine {

struct Completion {
  using Handler = void (*)(Completion& self, int result, std::uint32_t flags);
  Handler handler = nullptr;
};

// The operations the engine needs that `probe` does not list, in words ("" when none is missing).
std::string missing_io_uring_features(io_uring_probe& probe);

class Ring {
 public:
  // Throws std::system_error naming what the kernel refused, std::runtime_error naming what its
  // io_uring lacks. `receive_buffers` buffers of
  // `buffer_bytes` each make the shard's receive pool.
  explicit Ring(unsigned entries, unsigned receive_buffers = 1024, unsigned buffer_bytes = 4096);
  ~Ring();
  Ring(const Ring&) = delete;
  Ring& operator=(const Ring&) = delete;

  // A submission entry for `completion` (submits pending ones first when the queue is full;
  // throws std::system_error when that does not free an entry).
  io_uring_sqe* prepare(Completion* completion);
  // An entry whose completion nobody waits for (cancellations, linked timeouts).
  io_uring_sqe* prepare_untracked();

  // Submits what is prepared, waits up to `timeout` for a completion, and dispatches every
  // completion that is there. Returns the number dispatched. `turn_clock`, when given, starts its
  // turn (Timers::start_turn) between the wait and the first handler.
  unsigned run_once(std::chrono::nanoseconds timeout, Timers* turn_clock = nullptr);
  // Submits what is prepared without waiting or dispatching: for a destructor, when the objects
  // completions point into may already be gone.
  void submit_only();

  int fd() const { return ring_.ring_fd; }
  // The shard's receive-buffer pool (multishot receives select from it).
  ProvidedBuffers& receive_buffers() { return *buffers_; }
  // The mode the ring runs in, for the log ("single-issuer, deferred task run").
  const std::string& mode() const { return mode_; }

 private:
  io_uring ring_{};
  std::string mode_;
  std::unique_ptr<ProvidedBuffers> buffers_;
};

}  // namespace ringrelay::engine
