// A shard's pool of receive buffers, lent to the kernel as a provided-buffer ring: connections
// keep one multishot receive armed and own no buffer while idle; a buffer is taken when data
// arrives and given back as soon as the protocol session has read it. liburing 2.3 lacks
// io_uring_setup_buf_ring, so the ring is mapped and registered by hand (dependencies.md).
#pragma once

#include <liburing.h>

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace ringrelay::engine {

class ProvidedBuffers {
 public:
  // `count` must be a power of two. Throws std::system_error if the kernel refuses.
  ProvidedBuffers(io_uring& ring, std::uint16_t group, unsigned count, unsigned size);
  ~ProvidedBuffers();
  ProvidedBuffers(const ProvidedBuffers&) = delete;
  ProvidedBuffers& operator=(const ProvidedBuffers&) = delete;

  std::uint16_t group() const { return group_; }
  // The bytes a completion delivered into buffer `id`.
  std::string_view data(unsigned id, std::size_t length) const {
    return {buffers_ + static_cast<std::size_t>(id) * size_, length};
  }
  // Gives buffer `id` back to the kernel.
  void recycle(unsigned id);

 private:
  io_uring& ring_;
  std::uint16_t group_;
  unsigned count_, size_;
  io_uring_buf_ring* buf_ring_ = nullptr;
  std::size_t ring_bytes_ = 0;
  char* buffers_ = nullptr;
};

}  // namespace ringrelay::engine
