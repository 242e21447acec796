#ifndef PGWARDEN_EXPORTERS_WEB_CONFIG_H_
#define PGWARDEN_EXPORTERS_WEB_CONFIG_H_

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace pgwarden {

// ClientAuth is tls_server_config.client_auth_type: whether the endpoint asks
// for a client certificate, and whether it checks it against client_ca_file.
enum class ClientAuth {
  kNone,              // NoClientCert
  kRequest,           // RequestClientCert: asked for, not required, not checked
  kRequireAny,        // RequireAnyClientCert: required, not checked
  kVerifyIfGiven,     // VerifyClientCertIfGiven: optional, checked when sent
  kRequireAndVerify,  // RequireAndVerifyClientCert: required and checked
};

// TlsVersion is min_version / max_version (TLS10 ... TLS13).
enum class TlsVersion { kTls10 = 0, kTls11, kTls12, kTls13 };

// WebTlsConfig is `tls_server_config`. Paths are absolute, resolved against
// the web config file's folder.
struct WebTlsConfig {
  std::string cert_file;
  std::string key_file;
  std::string client_ca_file;
  ClientAuth client_auth = ClientAuth::kNone;
  TlsVersion min_version = TlsVersion::kTls12;
  TlsVersion max_version = TlsVersion::kTls13;

  bool RequestsCert() const { return client_auth != ClientAuth::kNone; }
  bool RequiresCert() const {
    return client_auth == ClientAuth::kRequireAny || client_auth == ClientAuth::kRequireAndVerify;
  }
  bool VerifiesCert() const {
    return client_auth == ClientAuth::kVerifyIfGiven ||
           client_auth == ClientAuth::kRequireAndVerify;
  }
};

// WebConfig is the web config file (the Prometheus exporter-toolkit format):
// TLS, extra response headers and basic-auth users.
struct WebConfig {
  std::optional<WebTlsConfig> tls;
  // headers: http_server_config.headers, in file order.
  std::vector<std::pair<std::string, std::string>> headers;
  // users: basic_auth_users, user name to bcrypt hash; empty: no basic auth.
  absl::flat_hash_map<std::string, std::string> users;
};

// ParseWebConfig reads the text of web config file `path` (named in errors
// as "FILE:LINE:COL: KEY: what", every error at once). It does no I/O:
// the files it names are checked when they are loaded.
absl::StatusOr<WebConfig> ParseWebConfig(const std::string& text, const std::string& path);

// LoadWebConfig reads and parses the web config file at `path`.
absl::StatusOr<WebConfig> LoadWebConfig(const std::string& path);

// TlsPriorities is the GnuTLS priority string allowing min..max.
std::string TlsPriorities(TlsVersion min, TlsVersion max);

// IsBcryptHash: `$2a$`, `$2b$` or `$2y$`, a two-digit cost and 53 characters
// of salt and hash.
bool IsBcryptHash(absl::string_view hash);

// ParseBasicAuth decodes an `Authorization: Basic ...` header value into
// user and password; nullopt when it is not one.
std::optional<std::pair<std::string, std::string>> ParseBasicAuth(absl::string_view header);

}  // namespace pgwarden

#endif  // PGWARDEN_EXPORTERS_WEB_CONFIG_H_
