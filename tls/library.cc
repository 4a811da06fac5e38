// wolfSSL initialisation and build description. options.h comes first: it is the configuration
// of the very library we link (see notes/dependencies.md).
#include "tls/library.hh"

// clang-format off
#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
#include <wolfssl/version.h>
// clang-format on

#include <mutex>

namespace ringrelay::tls {

void initialize_library() {
  static std::once_flag once;
  std::call_once(once, [] { wolfSSL_Init(); });
}

bool library_has_aesni() {
#if defined(WOLFSSL_AESNI)
  return true;
#else
  return false;
#endif
}

std::string library_description() {
  std::string text = std::string("wolfSSL ") + LIBWOLFSSL_VERSION_STRING;
#if defined(WOLFSSL_AESNI) && defined(WOLFSSL_SP_X86_64_ASM)
  text += " (AES-NI, SP assembly)";
#elif defined(WOLFSSL_AESNI)
  text += " (AES-NI)";
#else
  text += " (no AES-NI, no assembly)";
#endif
  return text;
}

}  // namespace ringrelay::tls
