// A WOLFSSL_CTX with what every connection of one shard shares: trusted CAs, our own certificate,
// the verification depth. One per shard (no lock in wolfSSL_new); per-destination choices
// (protocols, ciphers, SNI) are made per connection by tls::Channel.
#pragma once

#include <stdexcept>
#include <string>

struct WOLFSSL_CTX;

namespace ringrelay::tls {

// A file that cannot be read, a key that does not fit its certificate: the words name the file.
class ContextError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct ContextSettings {
  std::string ca_file;             // smtp_tls_CAfile
  std::string ca_path;             // smtp_tls_CApath
  bool append_system_cas = false;  // tls_append_default_CA (system CAs are used when no CA is set)
  std::string cert_file;           // smtp_tls_cert_file: our client certificate (chain), PEM
  std::string key_file;            // smtp_tls_key_file
  // smtp_tls_chain_files (takes the place of the two above): one PEM file with the private key
  // first, then its certificate and the chain.
  std::string chain_file;
  int verify_depth = 9;  // smtp_tls_scert_verifydepth

  bool operator==(const ContextSettings&) const = default;
};

enum class Role { client, server };

class Context {
 public:
  // Throws ContextError.
  Context(Role role, const ContextSettings& settings);
  ~Context();
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  Role role() const { return role_; }
  WOLFSSL_CTX* native() const { return ctx_; }

 private:
  Role role_;
  WOLFSSL_CTX* ctx_ = nullptr;
};

}  // namespace ringrelay::tls
