// Cyrus SASL's client API behind proto::AuthClient. Cyrus keeps pointers to the callbacks and to
// the secret until sasl_dispose, so both live in the client's Cyrus state, which never moves; the
// secret is wiped when the client goes.
#include "proto/sasl_cyrus.hh"

#include <sasl/sasl.h>

#include <array>
#include <cstring>
#include <mutex>

#include "proto/ascii.hh"

namespace ringrelay::proto {
namespace {

// Cyrus's default mutexes do nothing; shards create and dispose connections concurrently.
void* mutex_alloc() {
  return new std::mutex;
}
int mutex_lock(void* m) {
  static_cast<std::mutex*>(m)->lock();
  return 0;
}
int mutex_unlock(void* m) {
  static_cast<std::mutex*>(m)->unlock();
  return 0;
}
void mutex_free(void* m) {
  delete static_cast<std::mutex*>(m);
}

// Cyrus's own log lines (plugin loading, mechanism trouble) are not ours to print per session;
// what matters reaches the session as an error code and sasl_errdetail.
int drop_log(void*, int, const char*) {
  return SASL_OK;
}

std::once_flag init_once;
std::string init_error;
std::string config_path_storage;  // Cyrus keeps the pointer given to sasl_set_path

// Cyrus's callback table takes every callback as int (*)(void); the detour through void (*)() is
// the one cast GCC accepts between unrelated function types.
template <typename Function>
auto callback(Function* function) {
  return reinterpret_cast<int (*)()>(reinterpret_cast<void (*)()>(function));
}

std::string sasl_words(int status) {
  return sasl_errstring(status, nullptr, nullptr);
}

}  // namespace

std::string init_cyrus_sasl(const std::string& config_path) {
  std::call_once(init_once, [&] {
    sasl_set_mutex(&mutex_alloc, &mutex_lock, &mutex_unlock, &mutex_free);
    if (!config_path.empty()) {
      config_path_storage = config_path;
      if (sasl_set_path(SASL_PATH_TYPE_CONFIG, config_path_storage.data()) != SASL_OK) {
        init_error = "cannot set the Cyrus SASL configuration path \"" + config_path + "\"";
        return;
      }
    }
    static const sasl_callback_t callbacks[] = {
        {SASL_CB_LOG, callback(&drop_log), nullptr},
        {SASL_CB_LIST_END, nullptr, nullptr},
    };
    int status = sasl_client_init(callbacks);
    if (status != SASL_OK) init_error = "Cyrus SASL client initialization: " + sasl_words(status);
  });
  return init_error;
}

std::vector<std::string> cyrus_client_mechanisms() {
  std::vector<std::string> out;
  if (!init_cyrus_sasl().empty()) return out;
  const char** list = sasl_global_listmech();
  for (; list != nullptr && *list != nullptr; ++list) out.emplace_back(*list);
  return out;
}

std::optional<unsigned> sasl_security_flags(std::string_view options, std::string& error) {
  unsigned flags = 0;
  std::string word;
  auto take = [&]() -> bool {
    if (word.empty()) return true;
    std::string w = ascii_lower(word);
    word.clear();
    if (w == "noplaintext") {
      flags |= SASL_SEC_NOPLAINTEXT;
    } else if (w == "noactive") {
      flags |= SASL_SEC_NOACTIVE;
    } else if (w == "nodictionary") {
      flags |= SASL_SEC_NODICTIONARY;
    } else if (w == "noanonymous") {
      flags |= SASL_SEC_NOANONYMOUS;
    } else if (w == "mutual_auth") {
      flags |= SASL_SEC_MUTUAL_AUTH;
    } else {
      error = "unknown SASL security option \"" + w +
              "\" (expected noplaintext, noactive, nodictionary, noanonymous, mutual_auth)";
      return false;
    }
    return true;
  };
  for (char c : options) {
    if (c == ',' || c == ' ' || c == '\t') {
      if (!take()) return std::nullopt;
    } else {
      word += c;
    }
  }
  if (!take()) return std::nullopt;
  return flags;
}

bool mechanism_allowed(const std::vector<std::string>& filter, std::string_view mechanism) {
  if (filter.empty()) return true;
  for (const std::string& entry : filter) {
    bool exclude = entry.starts_with("!");
    std::string_view name = std::string_view(entry).substr(exclude ? 1 : 0);
    if (name == "*" || name == mechanism) return !exclude;
  }
  return false;
}

struct CyrusSaslClient::Cyrus {
  sasl_conn_t* conn = nullptr;
  std::string mechanism;  // the one sasl_client_start chose
  std::array<sasl_callback_t, 5> callbacks{};
  std::vector<unsigned char> secret;  // a sasl_secret_t followed by the password

  ~Cyrus() {
    if (conn != nullptr) sasl_dispose(&conn);
    if (!secret.empty()) explicit_bzero(secret.data(), secret.size());
  }

  static int get_simple(void* context, int id, const char** result, unsigned* length) {
    auto* client = static_cast<CyrusSaslClient*>(context);
    // The login name; the authorization identity stays empty (the server derives it) unless
    // send_cyrus_sasl_authzid says to send the login name as that too.
    static const std::string kNoAuthorizationIdentity;
    const std::string& value = id == SASL_CB_AUTHNAME || client->options_.send_authzid
                                   ? client->credentials_.user
                                   : kNoAuthorizationIdentity;
    *result = value.c_str();
    if (length != nullptr) *length = static_cast<unsigned>(value.size());
    return SASL_OK;
  }

  static int get_secret(sasl_conn_t* conn, void* context, int id, sasl_secret_t** out) {
    auto* client = static_cast<CyrusSaslClient*>(context);
    if (conn == nullptr || out == nullptr || id != SASL_CB_PASS) return SASL_BADPARAM;
    Cyrus& self = *client->cyrus_;
    const std::string& password = client->credentials_.password;
    if (!self.secret.empty()) explicit_bzero(self.secret.data(), self.secret.size());
    self.secret.assign(sizeof(sasl_secret_t) + password.size() + 1, 0);
    auto* secret = reinterpret_cast<sasl_secret_t*>(self.secret.data());
    secret->len = password.size();
    std::memcpy(secret->data, password.data(), password.size());
    *out = secret;
    return SASL_OK;
  }

  // DIGEST-MD5 asks which realm to log in to: the server's first, as Cyrus's own clients do.
  static int get_realm(void*, int, const char** available, const char** result) {
    *result = available != nullptr && available[0] != nullptr ? available[0] : "";
    return SASL_OK;
  }
};

CyrusSaslClient::CyrusSaslClient(const SaslOptions& options, SaslCredentials credentials,
                                 std::string server_host)
    : options_(options),
      credentials_(std::move(credentials)),
      server_host_(std::move(server_host)),
      cyrus_(std::make_unique<Cyrus>()) {}

CyrusSaslClient::~CyrusSaslClient() {
  cyrus_.reset();
  if (!credentials_.password.empty()) {
    explicit_bzero(credentials_.password.data(), credentials_.password.size());
  }
}

std::vector<std::string> CyrusSaslClient::usable(const std::vector<std::string>& offered) const {
  std::vector<std::string> out;
  for (const std::string& mechanism : offered) {
    if (mechanism_allowed(options_.mechanism_filter, mechanism)) out.push_back(mechanism);
  }
  return out;
}

std::optional<AuthStart> CyrusSaslClient::start(const std::vector<std::string>& mechanisms,
                                                AuthSecurity security, std::string& why) {
  if (std::string error = init_cyrus_sasl(); !error.empty()) {
    why = error;
    return std::nullopt;
  }
  Cyrus& c = *cyrus_;
  if (c.conn != nullptr) sasl_dispose(&c.conn);
  c.callbacks = {{
      {SASL_CB_USER, callback(&Cyrus::get_simple), this},
      {SASL_CB_AUTHNAME, callback(&Cyrus::get_simple), this},
      {SASL_CB_PASS, callback(&Cyrus::get_secret), this},
      {SASL_CB_GETREALM, callback(&Cyrus::get_realm), this},
      {SASL_CB_LIST_END, nullptr, nullptr},
  }};
  int status = sasl_client_new(options_.service.c_str(), server_host_.c_str(), nullptr, nullptr,
                               c.callbacks.data(), 0, &c.conn);
  if (status != SASL_OK) {
    why = "per-session SASL client initialization: " + sasl_words(status);
    return std::nullopt;
  }
  const std::string& words = security == AuthSecurity::plaintext ? options_.security_options
                             : security == AuthSecurity::tls
                                 ? options_.tls_security_options
                                 : options_.tls_verified_security_options;
  std::string error;
  auto flags = sasl_security_flags(words, error);
  if (!flags) {
    why = error;
    return std::nullopt;
  }
  sasl_security_properties_t properties{};
  properties.min_ssf = 0;
  properties.max_ssf = 0;  // no SASL security layer: TLS protects the connection, or nothing
  properties.security_flags = *flags;
  if ((status = sasl_setprop(c.conn, SASL_SEC_PROPS, &properties)) != SASL_OK) {
    why = "set per-session SASL security properties: " + sasl_words(status);
    return std::nullopt;
  }
  std::string list;
  for (const std::string& m : mechanisms) list += (list.empty() ? "" : " ") + m;
  const char* out = nullptr;
  unsigned out_length = 0;
  const char* chosen = nullptr;
  status = sasl_client_start(c.conn, list.c_str(), nullptr, &out, &out_length, &chosen);
  if (status != SASL_OK && status != SASL_CONTINUE) {
    why = sasl_words(status);
    return std::nullopt;
  }
  AuthStart result;
  result.mechanism = chosen != nullptr ? chosen : "";
  c.mechanism = result.mechanism;
  if (out != nullptr && out_length > 0) result.initial_response.emplace(out, out_length);
  return result;
}

std::optional<std::string> CyrusSaslClient::step(std::string_view challenge, std::string& why) {
  Cyrus& c = *cyrus_;
  if (c.conn == nullptr) {
    why = "a challenge before the exchange started";
    return std::nullopt;
  }
  if (c.mechanism == "DIGEST-MD5") {
    if (std::string problem = digest_md5_challenge_problem(challenge); !problem.empty()) {
      why = problem;
      return std::nullopt;
    }
  }
  const char* out = nullptr;
  unsigned out_length = 0;
  int status = sasl_client_step(c.conn, challenge.data(), static_cast<unsigned>(challenge.size()),
                                nullptr, &out, &out_length);
  if (status != SASL_OK && status != SASL_CONTINUE) {
    const char* detail = sasl_errdetail(c.conn);
    why = detail != nullptr && *detail != '\0' ? std::string(detail) : sasl_words(status);
    return std::nullopt;
  }
  return out != nullptr ? std::string(out, out_length) : std::string();
}

// RFC 2831's digest-challenge: 1#(name "=" (token | quoted-string)), with linear white space
// around the parts. Only the names are read; values are skipped (a quoted one up to its closing
// quote, past backslash escapes).
std::string digest_md5_challenge_problem(std::string_view challenge) {
  static constexpr std::string_view kOnce[] = {"nonce",   "qop",       "stale", "maxbuf",
                                               "charset", "algorithm", "cipher"};
  std::array<bool, std::size(kOnce)> seen{};
  auto blank = [](char ch) { return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n'; };
  std::size_t i = 0, n = challenge.size();
  while (i < n) {
    while (i < n && (blank(challenge[i]) || challenge[i] == ',')) ++i;
    std::size_t name_start = i;
    while (i < n && challenge[i] != '=' && challenge[i] != ',' && !blank(challenge[i])) ++i;
    std::string name = ascii_lower(challenge.substr(name_start, i - name_start));
    while (i < n && blank(challenge[i])) ++i;
    if (i < n && challenge[i] == '=') {
      ++i;
      while (i < n && blank(challenge[i])) ++i;
      if (i < n && challenge[i] == '"') {
        for (++i; i < n && challenge[i] != '"'; ++i) {
          if (challenge[i] == '\\') ++i;  // a quoted pair: the next character is literal
        }
        ++i;  // the closing quote
      } else {
        while (i < n && challenge[i] != ',') ++i;
      }
    }
    for (std::size_t k = 0; k < std::size(kOnce); ++k) {
      if (name != kOnce[k]) continue;
      if (seen[k]) {
        return "the server's DIGEST-MD5 challenge gives \"" + name +
               "\" twice (RFC 2831 allows it once)";
      }
      seen[k] = true;
    }
  }
  return {};
}

std::string CyrusSaslClient::identity() const {
  return sasl_identity(credentials_);
}

}  // namespace ringrelay::proto
