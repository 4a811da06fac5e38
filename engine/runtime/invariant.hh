// RINGRELAY_CHECK: an invariant of the engine that stays checked in release builds (keep it to
// cheap conditions). A broken one is a bug: it says where and what on stderr and aborts, so that
// systemd restarts the process and the results journal offers what was unfinished again, instead
// of delivering with corrupted state.
#pragma once

#include <cstdio>
#include <cstdlib>

#define RINGRELAY_CHECK(condition, what)                                                       \
  do {                                                                                         \
    if (!(condition)) [[unlikely]] {                                                           \
      std::fprintf(stderr, "ringrelay: fatal: invariant broken at %s:%d: %s (%s)\n", __FILE__, \
                   __LINE__, what, #condition);                                                \
      std::abort();                                                                            \
    }                                                                                          \
  } while (false)
