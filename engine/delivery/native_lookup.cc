// The native lookup thread: a request queue under a mutex (lookups are rare and cached, not on
// the per-message path), getaddrinfo per request, answers handed back through an eventfd.
#include "engine/delivery/native_lookup.hh"

#include <netdb.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cstring>
#include <system_error>

namespace ringrelay::engine {

NativeLookupThread::NativeLookupThread(Ring& ring) : ring_(ring) {
  eventfd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (eventfd_ < 0) throw std::system_error(errno, std::generic_category(), "eventfd");
  wakeup_.owner = this;
  wakeup_.handler = &NativeLookupThread::on_wakeup;
}

NativeLookupThread::~NativeLookupThread() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  work_.notify_all();
  if (thread_.joinable()) thread_.join();
  if (wakeup_armed_) {
    wakeup_.handler = nullptr;  // the cancellation's completion must not call back into us
    io_uring_prep_cancel(ring_.prepare_untracked(), &wakeup_, 0);
  }
  ::close(eventfd_);
}

void NativeLookupThread::lookup(const std::string& host,
                                std::function<void(dns::NativeResult)> done) {
  {
    std::lock_guard lock(mutex_);
    requests_.push_back(Job{host, std::move(done), {}});
  }
  ++outstanding_;
  if (!thread_.joinable()) thread_ = std::thread([this] { run(); });
  work_.notify_one();
  if (!wakeup_armed_) arm_wakeup();
}

void NativeLookupThread::run() {
  pthread_setname_np(pthread_self(), "rr-lookup");
  std::unique_lock lock(mutex_);
  for (;;) {
    work_.wait(lock, [this] { return stopping_ || !requests_.empty(); });
    if (stopping_) return;
    Job job = std::move(requests_.front());
    requests_.pop_front();
    lock.unlock();
    addrinfo hints{};
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_ADDRCONFIG;
    addrinfo* list = nullptr;
    int rc = ::getaddrinfo(job.host.c_str(), nullptr, &hints, &list);
    if (rc != 0) {
      job.result.error = rc;
      job.result.error_text = rc == EAI_SYSTEM ? std::strerror(errno) : ::gai_strerror(rc);
    } else {
      for (addrinfo* ai = list; ai != nullptr; ai = ai->ai_next) {
        char text[NI_MAXHOST];
        if (::getnameinfo(ai->ai_addr, ai->ai_addrlen, text, sizeof text, nullptr, 0,
                          NI_NUMERICHOST) != 0) {
          continue;
        }
        bool seen = false;
        for (const auto& a : job.result.addresses) seen |= a == text;
        if (!seen) job.result.addresses.emplace_back(text);
      }
      ::freeaddrinfo(list);
    }
    lock.lock();
    answers_.push_back(std::move(job));
    std::uint64_t one = 1;
    [[maybe_unused]] ssize_t n = ::write(eventfd_, &one, sizeof one);
  }
}

void NativeLookupThread::arm_wakeup() {
  io_uring_prep_read(ring_.prepare(&wakeup_), eventfd_, &wakeup_.counter, sizeof wakeup_.counter,
                     0);
  wakeup_armed_ = true;
}

void NativeLookupThread::on_wakeup(Completion& completion, int, std::uint32_t) {
  NativeLookupThread& self = *static_cast<Wakeup&>(completion).owner;
  self.wakeup_armed_ = false;
  std::deque<Job> ready;
  {
    std::lock_guard lock(self.mutex_);
    ready.swap(self.answers_);
  }
  self.outstanding_ -= ready.size();
  if (self.outstanding_ > 0) self.arm_wakeup();  // the rest are still being looked up
  for (Job& job : ready) job.done(std::move(job.result));
}

}  // namespace ringrelay::engine
