// Context set-up: CAs (the configured ones, else the system's), our certificate and key, and no
// internal session cache (sessions are kept by tls::SessionStore, keyed by endpoint and policy).
#include "tls/context.hh"

// clang-format off
#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
// clang-format on

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "tls/library.hh"

namespace ringrelay::tls {
namespace {

// Why wolfSSL refused `path`: the system's words when the file cannot be read at all.
std::string why_not(const std::string& path) {
  if (std::FILE* file = std::fopen(path.c_str(), "r")) {
    std::fclose(file);
  } else {
    return std::strerror(errno);
  }
  char text[WOLFSSL_MAX_ERROR_SZ] = {};
  unsigned long error = wolfSSL_ERR_get_error();
  if (error == 0) return "not a usable PEM file";
  wolfSSL_ERR_error_string_n(error, text, sizeof text);
  return text;
}

}  // namespace

Context::Context(Role role, const ContextSettings& settings) : role_(role) {
  initialize_library();
  ctx_ = wolfSSL_CTX_new(role == Role::client ? wolfSSLv23_client_method()
                                              : wolfSSLv23_server_method());
  if (ctx_ == nullptr) throw ContextError("cannot create a TLS context");
  // Sessions are resumed through tls::SessionStore only: wolfSSL's own cache is global (locked).
  wolfSSL_CTX_set_session_cache_mode(ctx_, WOLFSSL_SESS_CACHE_OFF);
  wolfSSL_CTX_set_verify_depth(ctx_, settings.verify_depth);
  try {
    bool configured = !settings.ca_file.empty() || !settings.ca_path.empty();
    if (configured &&
        wolfSSL_CTX_load_verify_locations(
            ctx_, settings.ca_file.empty() ? nullptr : settings.ca_file.c_str(),
            settings.ca_path.empty() ? nullptr : settings.ca_path.c_str()) != WOLFSSL_SUCCESS) {
      std::string where = settings.ca_file.empty() ? settings.ca_path : settings.ca_file;
      throw ContextError(where + ": cannot load trusted CA certificates: " + why_not(where));
    }
    if ((!configured || settings.append_system_cas) && role == Role::client) {
      // No CA configured: the system's, as smtp_tls_CAfile's documentation lets users expect.
      // A machine without a CA bundle still runs; verification then fails with a clear reason.
      wolfSSL_CTX_load_system_CA_certs(ctx_);
    }
    // A chain file holds the key and the certificates; wolfSSL picks each out of the PEM blocks.
    const std::string& cert_file =
        settings.chain_file.empty() ? settings.cert_file : settings.chain_file;
    if (!cert_file.empty()) {
      if (wolfSSL_CTX_use_certificate_chain_file(ctx_, cert_file.c_str()) != WOLFSSL_SUCCESS) {
        throw ContextError(cert_file + ": cannot load the certificate: " + why_not(cert_file));
      }
      const std::string& key = !settings.chain_file.empty() ? settings.chain_file
                               : settings.key_file.empty()  ? settings.cert_file
                                                            : settings.key_file;
      if (wolfSSL_CTX_use_PrivateKey_file(ctx_, key.c_str(), WOLFSSL_FILETYPE_PEM) !=
          WOLFSSL_SUCCESS) {
        throw ContextError(key + ": cannot load the private key: " + why_not(key));
      }
      if (wolfSSL_CTX_check_private_key(ctx_) != WOLFSSL_SUCCESS) {
        throw ContextError(key + ": the private key does not match the certificate in " +
                           cert_file);
      }
    }
  } catch (...) {
    wolfSSL_CTX_free(ctx_);
    throw;
  }
}

Context::~Context() {
  if (ctx_ != nullptr) wolfSSL_CTX_free(ctx_);
}

}  // namespace ringrelay::tls
