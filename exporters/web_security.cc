#include "exporters/web_security.h"

#include <gnutls/abstract.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "core/log.h"

namespace pgwarden {
namespace {

absl::StatusOr<std::string> ReadKeyFile(const std::string& path, const char* key,
                                        const std::string& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": tls_server_config.", key, ": cannot read ", file, ": ", std::strerror(errno)));
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

gnutls_datum_t Datum(const std::string& s) {
  return {reinterpret_cast<unsigned char*>(const_cast<char*>(s.data())),
          static_cast<unsigned int>(s.size())};
}

absl::Status TlsError(const std::string& path, const char* key, const std::string& file,
                      const std::string& what) {
  return absl::InvalidArgumentError(
      absl::StrCat(path, ": tls_server_config.", key, ": ", file, ": ", what));
}

// KeyId is the public key's id, to check that key_file matches cert_file.
std::string KeyId(gnutls_pubkey_t pub) {
  unsigned char id[64];
  size_t size = sizeof(id);
  if (gnutls_pubkey_get_key_id(pub, 0, id, &size) != 0) return "";
  return std::string(reinterpret_cast<char*>(id), size);
}

absl::Status LoadChainAndKey(const WebTlsConfig& tls, const std::string& path, TlsMaterial* m) {
  absl::StatusOr<std::string> cert = ReadKeyFile(path, "cert_file", tls.cert_file);
  if (!cert.ok()) return cert.status();
  absl::StatusOr<std::string> key = ReadKeyFile(path, "key_file", tls.key_file);
  if (!key.ok()) return key.status();
  m->chain.resize(16);
  unsigned int n = static_cast<unsigned int>(m->chain.size());
  gnutls_datum_t cert_datum = Datum(*cert);
  if (int rc = gnutls_pcert_list_import_x509_raw(m->chain.data(), &n, &cert_datum,
                                                 GNUTLS_X509_FMT_PEM, 0);
      rc < 0 || n == 0) {
    m->chain.clear();
    return TlsError(path, "cert_file", tls.cert_file,
                    absl::StrCat("not a PEM certificate: ", gnutls_strerror(rc)));
  }
  m->chain.resize(n);
  gnutls_datum_t key_datum = Datum(*key);
  if (gnutls_privkey_init(&m->key) < 0) return absl::InternalError("gnutls_privkey_init failed");
  if (int rc = gnutls_privkey_import_x509_raw(m->key, &key_datum, GNUTLS_X509_FMT_PEM, nullptr, 0);
      rc < 0) {
    return TlsError(path, "key_file", tls.key_file,
                    absl::StrCat("not a PEM private key: ", gnutls_strerror(rc)));
  }
  gnutls_pubkey_t pub = nullptr;
  gnutls_pubkey_init(&pub);
  const bool imported = gnutls_pubkey_import_privkey(pub, m->key, 0, 0) == 0;
  const bool match = imported && KeyId(pub) == KeyId(m->chain[0].pubkey);
  gnutls_pubkey_deinit(pub);
  if (!match) return TlsError(path, "key_file", tls.key_file, "does not match cert_file");
  return absl::OkStatus();
}

}  // namespace

TlsMaterial::~TlsMaterial() {
  for (gnutls_pcert_st& c : chain) gnutls_pcert_deinit(&c);
  if (key != nullptr) gnutls_privkey_deinit(key);
  if (client_ca != nullptr) gnutls_x509_trust_list_deinit(client_ca, 1);
}

absl::StatusOr<std::shared_ptr<const TlsMaterial>> LoadTlsMaterial(const WebTlsConfig& tls,
                                                                   const std::string& path) {
  auto m = std::make_shared<TlsMaterial>();
  m->config = tls;
  if (absl::Status s = LoadChainAndKey(tls, path, m.get()); !s.ok()) return s;
  if (tls.client_ca_file.empty()) return std::shared_ptr<const TlsMaterial>(std::move(m));
  absl::StatusOr<std::string> ca = ReadKeyFile(path, "client_ca_file", tls.client_ca_file);
  if (!ca.ok()) return ca.status();
  if (gnutls_x509_trust_list_init(&m->client_ca, 0) < 0) {
    return absl::InternalError("gnutls_x509_trust_list_init failed");
  }
  gnutls_datum_t ca_datum = Datum(*ca);
  const int added = gnutls_x509_trust_list_add_trust_mem(m->client_ca, &ca_datum, nullptr,
                                                         GNUTLS_X509_FMT_PEM, 0, 0);
  if (added <= 0) {
    return TlsError(path, "client_ca_file", tls.client_ca_file,
                    added < 0 ? gnutls_strerror(added) : "holds no certificate");
  }
  return std::shared_ptr<const TlsMaterial>(std::move(m));
}

absl::StatusOr<std::unique_ptr<WebSecurity>> WebSecurity::Open(const std::string& path) {
  absl::StatusOr<WebConfig> cfg = LoadWebConfig(path);
  if (!cfg.ok()) return cfg.status();
  std::shared_ptr<const TlsMaterial> material;
  if (cfg->tls) {
    absl::StatusOr<std::shared_ptr<const TlsMaterial>> m = LoadTlsMaterial(*cfg->tls, path);
    if (!m.ok()) return m.status();
    material = *std::move(m);
  }
  std::unique_ptr<WebSecurity> w(new WebSecurity(path));
  w->tls_ = cfg->tls.has_value();
  if (w->tls_) w->priorities_ = TlsPriorities(cfg->tls->min_version, cfg->tls->max_version);
  w->seen_ = w->Signature(*cfg);
  w->Apply(*std::move(cfg), std::move(material));
  return w;
}

std::vector<std::pair<std::string, std::pair<int64_t, off_t>>> WebSecurity::Signature(
    const WebConfig& cfg) const {
  std::vector<std::string> files = {path_};
  if (cfg.tls) {
    files.push_back(cfg.tls->cert_file);
    files.push_back(cfg.tls->key_file);
    if (!cfg.tls->client_ca_file.empty()) files.push_back(cfg.tls->client_ca_file);
  }
  std::vector<std::pair<std::string, std::pair<int64_t, off_t>>> out;
  for (const std::string& f : files) {
    struct stat st {};
    if (::stat(f.c_str(), &st) != 0) {
      out.push_back({f, {-1, -1}});
      continue;
    }
    const int64_t mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 +
                             static_cast<int64_t>(st.st_mtim.tv_nsec);
    out.push_back({f, {mtime_ns, st.st_size}});
  }
  return out;
}

void WebSecurity::Apply(WebConfig cfg, std::shared_ptr<const TlsMaterial> material) {
  auth_.SetUsers(cfg.users);
  auto headers = std::make_shared<const HeaderList>(cfg.headers);
  current_ = std::move(cfg);
  absl::MutexLock lock(&mu_);
  headers_ = std::move(headers);
  if (material != nullptr) material_ = std::move(material);
}

std::shared_ptr<const HeaderList> WebSecurity::headers() const {
  absl::MutexLock lock(&mu_);
  return headers_;
}

void WebSecurity::MaybeReload(absl::Duration every) {
  const absl::Time now = absl::Now();
  if (now - last_look_ < every) return;
  last_look_ = now;
  // Each file is looked at before it is read: one written while being read
  // differs again at the next look.
  const auto before = Signature(current_);
  if (before == seen_) return;
  absl::StatusOr<WebConfig> cfg = LoadWebConfig(path_);
  std::shared_ptr<const TlsMaterial> material;
  auto next = before;
  if (cfg.ok()) {
    next = Signature(*cfg);
    next[0] = before[0];  // the web config file itself, as it was read
  }
  if (cfg.ok() && cfg->tls.has_value() != tls_) {
    cfg = absl::FailedPreconditionError(absl::StrCat(
        path_, ": tls_server_config: turning TLS on or off applies at the next start"));
  }
  if (cfg.ok() && cfg->tls) {
    if (TlsPriorities(cfg->tls->min_version, cfg->tls->max_version) != priorities_) {
      PGW_LOG(Warning) << path_
                       << ": tls_server_config.min_version/max_version: a change applies at the "
                          "next start";
    }
    absl::StatusOr<std::shared_ptr<const TlsMaterial>> m = LoadTlsMaterial(*cfg->tls, path_);
    if (m.ok()) {
      material = *std::move(m);
    } else {
      cfg = m.status();
    }
  }
  if (!cfg.ok()) {
    // Remembered, so one bad file is logged once, not every second.
    seen_ = before;
    PGW_LOG(Error) << "web config not re-read, keeping the previous settings: "
                   << cfg.status().message();
    return;
  }
  seen_ = std::move(next);
  Apply(*std::move(cfg), std::move(material));
  PGW_LOG(Info) << "web config " << path_ << " re-read";
}

int WebSecurity::OnHandshake(gnutls_session_t session, gnutls_certificate_verify_function* verify,
                             gnutls_pcert_st** chain, unsigned int* chain_length,
                             gnutls_privkey_t* key) {
  std::shared_ptr<const TlsMaterial> m;
  {
    absl::MutexLock lock(&mu_);
    m = material_;
    if (m == nullptr) return -1;
    if (handed_out_.empty() || handed_out_.back() != m) handed_out_.push_back(m);
  }
  const WebTlsConfig& c = m->config;
  gnutls_certificate_server_set_request(session, c.RequiresCert()   ? GNUTLS_CERT_REQUIRE
                                                 : c.RequestsCert() ? GNUTLS_CERT_REQUEST
                                                                    : GNUTLS_CERT_IGNORE);
  if (c.VerifiesCert()) gnutls_session_set_verify_function(session, verify);
  *chain = const_cast<gnutls_pcert_st*>(m->chain.data());
  *chain_length = static_cast<unsigned int>(m->chain.size());
  *key = m->key;
  return 0;
}

int WebSecurity::VerifyPeer(gnutls_session_t session) {
  std::shared_ptr<const TlsMaterial> m;
  {
    absl::MutexLock lock(&mu_);
    m = material_;
  }
  if (m == nullptr || m->client_ca == nullptr) return -1;
  unsigned int n = 0;
  const gnutls_datum_t* peers = gnutls_certificate_get_peers(session, &n);
  if (peers == nullptr || n == 0) return m->config.RequiresCert() ? -1 : 0;
  std::vector<gnutls_x509_crt_t> crts;
  bool ok = true;
  for (unsigned int i = 0; i < n && ok; ++i) {
    gnutls_x509_crt_t crt = nullptr;
    ok = gnutls_x509_crt_init(&crt) == 0;
    if (ok) crts.push_back(crt);
    ok = ok && gnutls_x509_crt_import(crt, &peers[i], GNUTLS_X509_FMT_DER) == 0;
  }
  unsigned int status = 0;
  gnutls_typed_vdata_st purpose{};
  purpose.type = GNUTLS_DT_KEY_PURPOSE_OID;
  purpose.data = reinterpret_cast<unsigned char*>(const_cast<char*>(GNUTLS_KP_TLS_WWW_CLIENT));
  ok = ok && gnutls_x509_trust_list_verify_crt2(m->client_ca, crts.data(),
                                                static_cast<unsigned int>(crts.size()), &purpose, 1,
                                                0, &status, nullptr) == 0;
  for (gnutls_x509_crt_t crt : crts) gnutls_x509_crt_deinit(crt);
  return ok && status == 0 ? 0 : -1;
}

}  // namespace pgwarden
