#ifndef PGWARDEN_EXPORTERS_WEB_SECURITY_H_
#define PGWARDEN_EXPORTERS_WEB_SECURITY_H_

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <sys/types.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "exporters/basic_auth.h"
#include "exporters/web_config.h"

namespace pgwarden {

using HeaderList = std::vector<std::pair<std::string, std::string>>;

// TlsMaterial is a loaded server certificate chain and key, and the CA that
// client certificates are checked against, in GnuTLS form.
struct TlsMaterial {
  TlsMaterial() = default;
  ~TlsMaterial();
  TlsMaterial(const TlsMaterial&) = delete;
  TlsMaterial& operator=(const TlsMaterial&) = delete;

  std::vector<gnutls_pcert_st> chain;
  gnutls_privkey_t key = nullptr;
  gnutls_x509_trust_list_t client_ca = nullptr;
  WebTlsConfig config;
};

// LoadTlsMaterial reads the files `tls` names; errors name `path` (the web
// config file) and the key.
absl::StatusOr<std::shared_ptr<const TlsMaterial>> LoadTlsMaterial(const WebTlsConfig& tls,
                                                                   const std::string& path);

// WebSecurity applies a web config file to the HTTP endpoint: TLS material
// for each handshake, basic auth and extra headers for each request, and
// re-reads the file (and the files it names) when they change. Whether TLS
// is on and its protocol versions are fixed at Open (the GnuTLS priorities
// are the daemon's); a re-read that changes them logs that they apply at the
// next start.
class WebSecurity {
 public:
  // Open reads and checks `path`; an error names the file and the key.
  static absl::StatusOr<std::unique_ptr<WebSecurity>> Open(const std::string& path);

  bool tls() const { return tls_; }
  // priorities is the GnuTLS priority string (when tls()).
  const std::string& priorities() const { return priorities_; }
  // headers are added to every response.
  std::shared_ptr<const HeaderList> headers() const;
  BasicAuth& auth() { return auth_; }

  // OnHandshake hands GnuTLS the current certificate and key for `session`
  // and sets whether it asks for a client certificate; `verify` (when the
  // client auth type checks certificates) is installed on the session.
  int OnHandshake(gnutls_session_t session, gnutls_certificate_verify_function* verify,
                  gnutls_pcert_st** chain, unsigned int* chain_length, gnutls_privkey_t* key);
  // VerifyPeer checks the client certificate of `session` against the
  // current client_ca_file: 0 to accept, -1 to end the handshake.
  int VerifyPeer(gnutls_session_t session);

  // MaybeReload re-reads the web config when it or a file it names changed
  // since the last look (mtime and size), at most once per `every`.
  void MaybeReload(absl::Duration every = absl::Seconds(1));

 private:
  explicit WebSecurity(std::string path) : path_(std::move(path)) {}
  // Signature is each watched file's mtime and size.
  std::vector<std::pair<std::string, std::pair<int64_t, off_t>>> Signature(
      const WebConfig& cfg) const;
  void Apply(WebConfig cfg, std::shared_ptr<const TlsMaterial> material);

  const std::string path_;
  bool tls_ = false;
  std::string priorities_;
  BasicAuth auth_;
  absl::Time last_look_ = absl::InfinitePast();  // only MaybeReload's thread
  std::vector<std::pair<std::string, std::pair<int64_t, off_t>>> seen_;  // likewise
  WebConfig current_;                                                    // likewise
  mutable absl::Mutex mu_;
  std::shared_ptr<const HeaderList> headers_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<const TlsMaterial> material_ ABSL_GUARDED_BY(mu_);
  // Every material handed to GnuTLS stays alive: a handshake may still use
  // one after a newer certificate replaced it (a few KiB per rotation).
  std::vector<std::shared_ptr<const TlsMaterial>> handed_out_ ABSL_GUARDED_BY(mu_);
};

}  // namespace pgwarden

#endif  // PGWARDEN_EXPORTERS_WEB_SECURITY_H_
