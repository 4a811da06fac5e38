// `ringrelay submit`: a minimal queue manager for operators and tests. Sends each FILE as one
// request (the body by reference: the server reads the file into memory), or each line of a JSONL
// batch, and prints one JSON object per recipient result. Exit: 0 all sent, 69 any bounced, 75 any
// deferred.
#pragma once

#include <span>
#include <string_view>

namespace ringrelay::engine {

int run_submit_command(std::span<const std::string_view> args);

}  // namespace ringrelay::engine
