// The channel: wolfSSL's custom I/O callbacks over two strings, a verify callback that records the
// chain result instead of failing the handshake (the level decides afterwards, as in Postfix),
// and the facts the peer check needs.
#include "tls/channel.hh"

// clang-format off
#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
#include <wolfssl/wolfcrypt/md5.h>
#include <wolfssl/wolfcrypt/sha.h>
#include <wolfssl/wolfcrypt/sha256.h>
#include <wolfssl/wolfcrypt/sha512.h>
// clang-format on

#include <cstring>
#include <vector>

namespace ringrelay::tls {
namespace {

// wolfSSL names a protocol version two ways: for SetMinVersion, and on the wire (max version).
struct VersionConstants {
  int minimum;
  int wire;
};
VersionConstants constants_of(TlsVersion v) {
  switch (v) {
    case TlsVersion::tls1:
      return {WOLFSSL_TLSV1, TLS1_VERSION};
    case TlsVersion::tls1_1:
      return {WOLFSSL_TLSV1_1, TLS1_1_VERSION};
    case TlsVersion::tls1_2:
      return {WOLFSSL_TLSV1_2, TLS1_2_VERSION};
    case TlsVersion::tls1_3:
      return {WOLFSSL_TLSV1_3, TLS1_3_VERSION};
  }
  return {WOLFSSL_TLSV1_2, TLS1_3_VERSION};
}

std::string hex_digest(std::string_view digest, const unsigned char* data, std::size_t size) {
  unsigned char out[WC_SHA512_DIGEST_SIZE];
  std::size_t length = 0;
  auto n = static_cast<word32>(size);
  if (digest == "md5") {
    if (wc_Md5Hash(data, n, out) != 0) return {};
    length = WC_MD5_DIGEST_SIZE;
  } else if (digest == "sha1") {
    if (wc_ShaHash(data, n, out) != 0) return {};
    length = WC_SHA_DIGEST_SIZE;
  } else if (digest == "sha512") {
    if (wc_Sha512Hash(data, n, out) != 0) return {};
    length = WC_SHA512_DIGEST_SIZE;
  } else {
    if (wc_Sha256Hash(data, n, out) != 0) return {};
    length = WC_SHA256_DIGEST_SIZE;
  }
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string text;
  for (std::size_t i = 0; i < length; ++i) {
    if (i) text += ':';
    text += kHex[out[i] >> 4];
    text += kHex[out[i] & 15];
  }
  return text;
}

bool printable_name(const char* name) {
  if (name == nullptr || *name == '\0') return false;
  for (const char* p = name; *p; ++p) {
    unsigned char c = static_cast<unsigned char>(*p);
    if (c <= ' ' || c >= 127) return false;
  }
  return true;
}

std::string error_words(WOLFSSL* ssl, int result) {
  int code = wolfSSL_get_error(ssl, result);
  char text[WOLFSSL_MAX_ERROR_SZ] = {};
  wolfSSL_ERR_error_string_n(static_cast<unsigned long>(code), text, sizeof text);
  return text;
}

}  // namespace

Channel::Channel(const Context& context) {
  ssl_ = wolfSSL_new(context.native());
  if (ssl_ == nullptr) throw ContextError("cannot create a TLS connection");
  wolfSSL_SSLSetIORecv(ssl_, &Channel::receive_callback);
  wolfSSL_SSLSetIOSend(ssl_, &Channel::send_callback);
  wolfSSL_SetIOReadCtx(ssl_, this);
  wolfSSL_SetIOWriteCtx(ssl_, this);
  if (context.role() == Role::client) {
    // Never fail the handshake over the certificate: record the chain result; the policy level
    // judges it afterwards (tls/peer_check), so "may" can still log an untrusted peer.
    wolfSSL_set_verify(ssl_, WOLFSSL_VERIFY_PEER, &Channel::verify_callback);
    wolfSSL_SetCertCbCtx(ssl_, this);
  }
}

Channel::~Channel() {
  if (ssl_ != nullptr) wolfSSL_free(ssl_);
}

int Channel::verify_callback(int preverify, WOLFSSL_X509_STORE_CTX* store) {
  auto* self = static_cast<Channel*>(store->userCtx);
  if (preverify == 0 && self != nullptr && !self->chain_failed_) {
    self->chain_failed_ = true;
    int error = wolfSSL_X509_STORE_CTX_get_error(store);
    int depth = wolfSSL_X509_STORE_CTX_get_error_depth(store);
    // X509_V_ERR_* codes have OpenSSL's words; wolfSSL's own (negative) codes have its own.
    std::string words;
    if (error < 0) {
      char text[WOLFSSL_MAX_ERROR_SZ] = {};
      wolfSSL_ERR_error_string_n(static_cast<unsigned long>(error), text, sizeof text);
      words = text;
    } else if (error == X509_V_ERR_ERROR_IN_CERT_NOT_BEFORE_FIELD) {
      words = "certificate is not yet valid";  // wolfSSL reports dates with these two codes,
    } else if (error == X509_V_ERR_ERROR_IN_CERT_NOT_AFTER_FIELD) {
      words = "certificate has expired";  // which its error strings do not know
    } else {
      words = wolfSSL_X509_verify_cert_error_string(error);
    }
    self->chain_error_ = words + " (depth " + std::to_string(depth) + ")";
  }
  return 1;
}

bool Channel::configure(const Policy& policy, std::string_view server_name) {
  // A library built without the oldest versions refuses them as a minimum: start from the
  // oldest one it has (stricter than asked, never looser).
  bool min_set = false;
  for (int v = static_cast<int>(policy.protocols.min);
       !min_set && v <= static_cast<int>(policy.protocols.max); ++v) {
    min_set = wolfSSL_SetMinVersion(ssl_, constants_of(static_cast<TlsVersion>(v)).minimum) ==
              WOLFSSL_SUCCESS;
  }
  if (!min_set || wolfSSL_set_max_proto_version(ssl_, constants_of(policy.protocols.max).wire) !=
                      WOLFSSL_SUCCESS) {
    error_ = "cannot set the TLS protocol range " + policy.protocols_text;
    return false;
  }
  if (wolfSSL_set_cipher_list(ssl_, policy.cipher_list.c_str()) != WOLFSSL_SUCCESS) {
    error_ = "no usable cipher in " + policy.cipher_list;
    return false;
  }
  if (!server_name.empty() &&
      wolfSSL_UseSNI(ssl_, WOLFSSL_SNI_HOST_NAME, server_name.data(),
                     static_cast<unsigned short>(server_name.size())) != WOLFSSL_SUCCESS) {
    error_ = "cannot send the server name " + std::string(server_name);
    return false;
  }
  return true;
}

void Channel::resume(const ResumableSession& session) {
  if (!session.session) return;
  offered_ = session;
  wolfSSL_set_session(ssl_, session.session.get());
}

int Channel::receive_callback(WOLFSSL*, char* buffer, int size, void* context) {
  auto& self = *static_cast<Channel*>(context);
  std::size_t available = self.input_.size() - self.input_offset_;
  if (available == 0) {
    return self.input_ended_ ? WOLFSSL_CBIO_ERR_CONN_CLOSE : WOLFSSL_CBIO_ERR_WANT_READ;
  }
  std::size_t n = std::min(available, static_cast<std::size_t>(size));
  std::memcpy(buffer, self.input_.data() + self.input_offset_, n);
  self.input_offset_ += n;
  if (self.input_offset_ == self.input_.size()) {
    self.input_.clear();
    self.input_offset_ = 0;
  }
  return static_cast<int>(n);
}

int Channel::send_callback(WOLFSSL*, char* buffer, int size, void* context) {
  auto& self = *static_cast<Channel*>(context);
  self.output_.append(buffer, static_cast<std::size_t>(size));
  return size;
}

void Channel::receive(std::string_view ciphertext) {
  if (input_offset_ > 0 && input_offset_ >= input_.size() / 2) {
    input_.erase(0, input_offset_);
    input_offset_ = 0;
  }
  input_.append(ciphertext);
}

std::string Channel::take_output() {
  std::string out;
  out.swap(output_);
  return out;
}

void Channel::swap_output(std::string& buffer) {
  buffer.clear();
  output_.swap(buffer);
}

Channel::Status Channel::outcome(int result, const char* what) {
  int code = wolfSSL_get_error(ssl_, result);
  if (code == WOLFSSL_ERROR_WANT_READ || code == WOLFSSL_ERROR_WANT_WRITE) return Status::want_read;
  if (code == WOLFSSL_ERROR_ZERO_RETURN) {
    error_ = "the peer closed the TLS connection";
    return Status::closed;
  }
  if (input_ended_ && input_offset_ >= input_.size()) {
    error_ = std::string("lost connection during ") + what;
    return Status::closed;
  }
  error_ = std::string(what) + ": " + error_words(ssl_, result);
  return Status::failed;
}

Channel::Status Channel::handshake() {
  if (handshake_done_) return Status::ok;
  int result =
      wolfSSL_GetSide(ssl_) == WOLFSSL_CLIENT_END ? wolfSSL_connect(ssl_) : wolfSSL_accept(ssl_);
  if (result == WOLFSSL_SUCCESS) {
    handshake_done_ = true;
    return Status::ok;
  }
  return outcome(result, "TLS handshake");
}

Channel::Status Channel::write(std::string_view plaintext) {
  while (!plaintext.empty()) {
    int chunk = static_cast<int>(std::min<std::size_t>(plaintext.size(), 1 << 20));
    int result = wolfSSL_write(ssl_, plaintext.data(), chunk);
    if (result <= 0) return outcome(result, "TLS write");
    plaintext.remove_prefix(static_cast<std::size_t>(result));
  }
  return Status::ok;
}

Channel::Status Channel::read(char* out, std::size_t capacity, std::size_t& produced) {
  produced = 0;
  int result = wolfSSL_read(ssl_, out, static_cast<int>(std::min<std::size_t>(capacity, 1 << 30)));
  if (result > 0) {
    produced = static_cast<std::size_t>(result);
    return Status::ok;
  }
  return outcome(result, "TLS read");
}

void Channel::close_notify() {
  if (handshake_done_) wolfSSL_shutdown(ssl_);
}

std::string Channel::protocol() const {
  const char* v = wolfSSL_get_version(ssl_);
  return v ? v : "";
}

std::string Channel::cipher() const {
  // OpenSSL's names, as Postfix logs them: the IANA name for TLS 1.3 ("TLS_AES_128_GCM_SHA256"),
  // the dashed name before ("ECDHE-RSA-AES128-GCM-SHA256", which wolfSSL uses too).
  int suite = wolfSSL_get_current_cipher_suite(ssl_);
  const char* name = nullptr;
  if (protocol() == "TLSv1.3") {
    name = wolfSSL_get_cipher_name_iana_from_suite(static_cast<byte>((suite >> 8) & 0xff),
                                                   static_cast<byte>(suite & 0xff));
  }
  if (name == nullptr) name = wolfSSL_get_cipher_name(ssl_);
  return name ? name : "";
}

std::string Channel::cipher_suite() const {
  const char* name = wolfSSL_get_cipher_name(ssl_);
  return name ? name : "";
}

int Channel::cipher_bits() const {
  int algorithm_bits = 0;
  return wolfSSL_CIPHER_get_bits(wolfSSL_get_current_cipher(ssl_), &algorithm_bits);
}

bool Channel::resumed() const {
  return wolfSSL_session_reused(ssl_) != 0;
}

SessionHandle Channel::session() const {
  WOLFSSL_SESSION* s = wolfSSL_get1_session(ssl_);
  if (s == nullptr) return nullptr;
  return SessionHandle(s, [](WOLFSSL_SESSION* p) { wolfSSL_SESSION_free(p); });
}

ResumableSession Channel::resumable() const {
  bool resumed_now = resumed();
  return ResumableSession{session(), resumed_now ? offered_.chain_trusted : !chain_failed_,
                          resumed_now ? offered_.chain_error : chain_error_};
}

PeerCertificate Channel::peer_certificate(std::string_view digest) const {
  PeerCertificate facts;
  WOLFSSL_X509* x509 = wolfSSL_get_peer_certificate(ssl_);
  if (x509 == nullptr) return facts;
  facts.present = true;
  // A resumed handshake checked no chain: the session's full handshake did.
  bool resumed_now = resumed();
  facts.chain_trusted = resumed_now ? offered_.chain_trusted : !chain_failed_;
  facts.chain_error = resumed_now ? offered_.chain_error : chain_error_;
  for (char* name = wolfSSL_X509_get_next_altname(x509); name != nullptr;
       name = wolfSSL_X509_get_next_altname(x509)) {
    if (printable_name(name)) facts.dns_names.emplace_back(name);
  }
  char text[256];
  auto common_name = [&](WOLFSSL_X509_NAME* n) {
    int length = wolfSSL_X509_NAME_get_text_by_NID(n, NID_commonName, text, sizeof text);
    return length > 0 ? std::string(text, static_cast<std::size_t>(length)) : std::string();
  };
  facts.subject_cn = common_name(wolfSSL_X509_get_subject_name(x509));
  facts.issuer_cn = common_name(wolfSSL_X509_get_issuer_name(x509));
  // The CN counts as a name only for certificates without DNS names (RFC 6125).
  if (facts.dns_names.empty() && printable_name(facts.subject_cn.c_str()))
    facts.dns_names.push_back(facts.subject_cn);
  int der_length = 0;
  const unsigned char* der = wolfSSL_X509_get_der(x509, &der_length);
  if (der != nullptr && der_length > 0)
    facts.cert_digest = hex_digest(digest, der, static_cast<std::size_t>(der_length));
  int spki_length = 0;
  if (wolfSSL_X509_get_pubkey_buffer(x509, nullptr, &spki_length) == WOLFSSL_SUCCESS &&
      spki_length > 0) {
    std::vector<unsigned char> spki(static_cast<std::size_t>(spki_length));
    if (wolfSSL_X509_get_pubkey_buffer(x509, spki.data(), &spki_length) == WOLFSSL_SUCCESS)
      facts.pkey_digest = hex_digest(digest, spki.data(), static_cast<std::size_t>(spki_length));
  }
  wolfSSL_X509_free(x509);
  if (!resumed_now) {
    WOLFSSL_X509_CHAIN* chain = wolfSSL_get_peer_chain(ssl_);
    int count = chain ? wolfSSL_get_chain_count(chain) : 0;
    for (int i = 0; i < count; ++i) {
      const unsigned char* cert = wolfSSL_get_chain_cert(chain, i);
      int length = wolfSSL_get_chain_length(chain, i);
      if (cert != nullptr && length > 0)
        facts.chain.emplace_back(reinterpret_cast<const char*>(cert),
                                 static_cast<std::size_t>(length));
    }
  }
  return facts;
}

}  // namespace ringrelay::tls
