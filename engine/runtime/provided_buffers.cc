// Setting up, registering and recycling the provided-buffer ring.
#include "engine/runtime/provided_buffers.hh"

#include <sys/mman.h>

#include <cerrno>
#include <system_error>

namespace ringrelay::engine {

ProvidedBuffers::ProvidedBuffers(io_uring& ring, std::uint16_t group, unsigned count, unsigned size)
    : ring_(ring), group_(group), count_(count), size_(size) {
  ring_bytes_ = sizeof(io_uring_buf) * count_;
  void* memory =
      ::mmap(nullptr, ring_bytes_, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
  if (memory == MAP_FAILED)
    throw std::system_error(errno, std::generic_category(), "mmap buffer ring");
  buf_ring_ = static_cast<io_uring_buf_ring*>(memory);
  io_uring_buf_ring_init(buf_ring_);
  io_uring_buf_reg reg{};
  reg.ring_addr = reinterpret_cast<std::uint64_t>(buf_ring_);
  reg.ring_entries = count_;
  reg.bgid = group_;
  int rc = io_uring_register_buf_ring(&ring_, &reg, 0);
  if (rc < 0) {
    ::munmap(buf_ring_, ring_bytes_);
    throw std::system_error(-rc, std::generic_category(), "io_uring_register_buf_ring");
  }
  buffers_ = new char[static_cast<std::size_t>(count_) * size_];
  for (unsigned id = 0; id < count_; ++id) {
    io_uring_buf_ring_add(buf_ring_, buffers_ + static_cast<std::size_t>(id) * size_, size_,
                          static_cast<unsigned short>(id), io_uring_buf_ring_mask(count_),
                          static_cast<int>(id));
  }
  io_uring_buf_ring_advance(buf_ring_, static_cast<int>(count_));
}

ProvidedBuffers::~ProvidedBuffers() {
  io_uring_unregister_buf_ring(&ring_, group_);
  ::munmap(buf_ring_, ring_bytes_);
  delete[] buffers_;
}

void ProvidedBuffers::recycle(unsigned id) {
  io_uring_buf_ring_add(buf_ring_, buffers_ + static_cast<std::size_t>(id) * size_, size_,
                        static_cast<unsigned short>(id), io_uring_buf_ring_mask(count_), 0);
  io_uring_buf_ring_advance(buf_ring_, 1);
}

}  // namespace ringrelay::engine
