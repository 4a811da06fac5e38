// The throw-away PKI of the TLS tests and benchmarks, made once per process by
// tests/tls/make-test-pki.sh (RINGRELAY_TLS_TEST_DIR is that folder) into /tmp.
#pragma once

#include <unistd.h>

#include <cstdlib>
#include <stdexcept>
#include <string>

namespace ringrelay::testing {

// The folder with ca.pem, good.pem/.key, wildcard, expired, unknown, client and fingerprints.
inline std::string test_pki_dir() {
  static const std::string dir = [] {
    std::string d = "/tmp/ringrelay-test-pki-" + std::to_string(::getuid());
    std::string command = std::string("bash ") + RINGRELAY_TLS_TEST_DIR + "/make-test-pki.sh " + d;
    if (std::system(command.c_str()) != 0) throw std::runtime_error("cannot make the test PKI");
    return d;
  }();
  return dir;
}

}  // namespace ringrelay::testing
