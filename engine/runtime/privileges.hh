// Dropping root (ringrelay_user): serve started as root binds its sockets, opens its journal and
// log, then runs as an unprivileged user for good — user, group and supplementary groups changed,
// no way back, checked before anything is read from the feed.
#pragma once

#include <string>
#include <vector>

namespace ringrelay::engine {

// Becomes `user` when running as root; returns what was done, for the log ("" when nothing was
// to do). Not root: "" when already running as that user, else a warning saying it is ignored.
// `writable_directories` (the results journal, which root may just have created) are given to
// the user first, with the files in them, so that it can go on writing there. Throws
// std::runtime_error naming the user and the failure (unknown user, a refused call, root still
// reachable).
std::string drop_privileges(const std::string& user,
                            const std::vector<std::string>& writable_directories = {});

// After the drop: whether ringrelay can still create files in `directory` (the results journal,
// the holds file's directory). Returns "" or the problem, starting with `what`.
std::string check_writable_directory(const std::string& directory, const std::string& what);

}  // namespace ringrelay::engine
