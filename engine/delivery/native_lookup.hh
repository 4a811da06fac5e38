// smtp_host_lookup = native: getaddrinfo (files, NSS, the system's DNS settings) on a helper
// thread of the shard, started on first use, so that a slow lookup never stalls the shard's loop.
// Answers come back through an eventfd read on the shard's ring and run on the shard's thread.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "dns/resolver.hh"
#include "engine/runtime/ring.hh"

namespace ringrelay::engine {

class NativeLookupThread : public dns::NativeLookup {
 public:
  explicit NativeLookupThread(Ring& ring);
  ~NativeLookupThread() override;  // unanswered lookups are dropped without their callbacks

  void lookup(const std::string& host, std::function<void(dns::NativeResult)> done) override;

 private:
  struct Job {
    std::string host;
    std::function<void(dns::NativeResult)> done;
    dns::NativeResult result;
  };
  struct Wakeup : Completion {
    NativeLookupThread* owner = nullptr;
    std::uint64_t counter = 0;
  };
  void run();
  void arm_wakeup();
  static void on_wakeup(Completion& completion, int result, std::uint32_t flags);

  Ring& ring_;
  int eventfd_ = -1;
  Wakeup wakeup_;
  bool wakeup_armed_ = false;
  std::size_t outstanding_ = 0;  // asked and not yet answered (shard thread only)
  std::mutex mutex_;
  std::condition_variable work_;
  std::deque<Job> requests_, answers_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace ringrelay::engine
