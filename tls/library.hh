// The wolfSSL library as ringrelay links it: one-time initialisation, and a description of the
// build (version, whether AES-NI and assembly are in) for logs, `ringrelay version` and benchmarks.
#pragma once

#include <string>

namespace ringrelay::tls {

// Initialises wolfSSL once per process; safe to call from every shard.
void initialize_library();

// "wolfSSL 5.5.4 (AES-NI, SP assembly)" or "wolfSSL 5.5.4 (no AES-NI, no assembly)".
std::string library_description();

// True when the linked wolfSSL encrypts with AES-NI (the assembly build of deploy/).
bool library_has_aesni();

}  // namespace ringrelay::tls
