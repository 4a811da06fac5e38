// What a connect, send or receive error means, errno by errno: Postfix's words for the log and the
// result ("Connection refused", "No route to host", ...), and whether a send or receive should
// simply be tried again. Every errno the kernel documents for these calls is named here; anything
// else still gets its strerror words and is treated as a lost connection.
#pragma once

#include <string>

namespace ringrelay::engine {

// "connect to host[addr]:25: <these words>".
std::string connect_error_words(int error);

// A send or receive that failed with `error` (positive errno) may be tried again at once.
bool transfer_error_is_passing(int error);
// Why a connection was lost, for the close reason ("Connection reset by peer").
std::string transfer_error_words(int error);

}  // namespace ringrelay::engine
