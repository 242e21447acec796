#include "exporters/web_config.h"

#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "core/config_node.h"

namespace pgwarden {
namespace {

using KeyList = std::initializer_list<absl::string_view>;

// CheckWebKeys records an error for each key of `node` that is neither in
// `supported` nor in `refused` (exporter-toolkit settings pgwarden does not
// implement: named as such, not as unknown).
void CheckWebKeys(const ConfigNode& node, KeyList supported, KeyList refused) {
  if (!node.IsMap()) return;
  for (auto it = node.raw().begin(); it != node.raw().end(); ++it) {
    const std::string key = it->first.IsScalar() ? it->first.Scalar() : "";
    auto in = [&key](KeyList list) {
      for (absl::string_view k : list) {
        if (k == key) return true;
      }
      return false;
    };
    if (in(supported)) continue;
    if (in(refused)) {
      node.ErrorAt(key, absl::StrCat("is not supported by pgwarden (supported here: ",
                                     absl::StrJoin(supported, ", "), ")"));
    } else {
      node.ErrorAt(key, "unknown key");
    }
  }
}

std::string Resolve(const std::string& dir, const std::string& file) {
  if (file.empty() || file[0] == '/' || dir.empty()) return file;
  return absl::StrCat(dir, "/", file);
}

std::optional<TlsVersion> ParseVersion(const std::string& text) {
  if (text == "TLS10") return TlsVersion::kTls10;
  if (text == "TLS11") return TlsVersion::kTls11;
  if (text == "TLS12") return TlsVersion::kTls12;
  if (text == "TLS13") return TlsVersion::kTls13;
  return std::nullopt;
}

std::optional<ClientAuth> ParseClientAuth(const std::string& text) {
  if (text == "NoClientCert") return ClientAuth::kNone;
  if (text == "RequestClientCert") return ClientAuth::kRequest;
  if (text == "RequireAnyClientCert") return ClientAuth::kRequireAny;
  if (text == "VerifyClientCertIfGiven") return ClientAuth::kVerifyIfGiven;
  if (text == "RequireAndVerifyClientCert") return ClientAuth::kRequireAndVerify;
  return std::nullopt;
}

TlsVersion GetVersion(const ConfigNode& node, absl::string_view key, TlsVersion def) {
  if (!node.Has(key)) return def;
  std::optional<TlsVersion> v = ParseVersion(node.GetString(key, ""));
  if (!v) node.ErrorAt(key, "expected TLS10, TLS11, TLS12 or TLS13");
  return v.value_or(def);
}

std::optional<WebTlsConfig> ParseTls(const ConfigNode& node, const std::string& dir) {
  if (!node.IsDefined() || !node.ExpectMap() || node.raw().size() == 0) return std::nullopt;
  CheckWebKeys(
      node,
      {"cert_file", "key_file", "client_ca_file", "client_auth_type", "min_version", "max_version"},
      {"cert", "key", "client_ca", "client_allowed_sans", "cipher_suites",
       "prefer_server_cipher_suites", "curve_preferences"});
  WebTlsConfig tls;
  tls.cert_file = Resolve(dir, node.GetRequiredString("cert_file"));
  tls.key_file = Resolve(dir, node.GetRequiredString("key_file"));
  tls.client_ca_file = Resolve(dir, node.GetString("client_ca_file", ""));
  if (node.Has("client_auth_type")) {
    std::optional<ClientAuth> a = ParseClientAuth(node.GetString("client_auth_type", ""));
    if (!a) {
      node.ErrorAt("client_auth_type",
                   "expected NoClientCert, RequestClientCert, RequireAnyClientCert, "
                   "VerifyClientCertIfGiven or RequireAndVerifyClientCert");
    }
    tls.client_auth = a.value_or(ClientAuth::kNone);
  }
  if (!tls.client_ca_file.empty() && tls.client_auth == ClientAuth::kNone) {
    node.ErrorAt("client_ca_file",
                 "is set but client_auth_type is NoClientCert (use RequireAndVerifyClientCert)");
  }
  if (tls.VerifiesCert() && tls.client_ca_file.empty()) {
    node.ErrorAt("client_auth_type", "needs client_ca_file to verify client certificates");
  }
  tls.min_version = GetVersion(node, "min_version", tls.min_version);
  tls.max_version = GetVersion(node, "max_version", tls.max_version);
  if (tls.min_version > tls.max_version) node.ErrorAt("min_version", "is above max_version");
  return tls;
}

// The headers exporter-toolkit lets a web config set, with the values it
// allows ("" for any).
struct AllowedHeader {
  const char* name;
  std::vector<const char*> values;
};

const std::vector<AllowedHeader>& AllowedHeaders() {
  static const auto* kAllowed = new std::vector<AllowedHeader>{
      {"Content-Security-Policy", {}},         {"X-Frame-Options", {"deny", "sameorigin"}},
      {"X-Content-Type-Options", {"nosniff"}}, {"X-XSS-Protection", {}},
      {"Strict-Transport-Security", {}},
  };
  return *kAllowed;
}

void ParseHeaders(const ConfigNode& node, WebConfig* cfg) {
  if (!node.IsDefined() || !node.ExpectMap()) return;
  for (auto it = node.raw().begin(); it != node.raw().end(); ++it) {
    const std::string name = it->first.IsScalar() ? it->first.Scalar() : "";
    const AllowedHeader* allowed = nullptr;
    for (const AllowedHeader& a : AllowedHeaders()) {
      if (absl::EqualsIgnoreCase(a.name, name)) allowed = &a;
    }
    if (allowed == nullptr) {
      std::vector<std::string> names;
      for (const AllowedHeader& a : AllowedHeaders()) names.emplace_back(a.name);
      node.ErrorAt(name,
                   absl::StrCat("header not allowed (allowed: ", absl::StrJoin(names, ", "), ")"));
      continue;
    }
    const std::string value = node.GetString(name, "");
    if (value.empty()) continue;  // blank: unset
    bool ok = allowed->values.empty();
    for (const char* v : allowed->values) ok = ok || absl::EqualsIgnoreCase(v, value);
    if (!ok) {
      node.ErrorAt(name, absl::StrCat("expected ", absl::StrJoin(allowed->values, " or ")));
      continue;
    }
    cfg->headers.emplace_back(allowed->name, value);
  }
}

void ParseHttp(const ConfigNode& node, WebConfig* cfg) {
  if (!node.IsDefined() || !node.ExpectMap()) return;
  CheckWebKeys(node, {"headers", "http2"}, {});
  if (node.GetBool("http2", false)) {
    node.ErrorAt("http2", "is not supported by pgwarden (it serves HTTP/1.1): remove it");
  }
  ParseHeaders(node.Child("headers"), cfg);
}

void ParseUsers(const ConfigNode& node, WebConfig* cfg) {
  if (!node.IsDefined() || !node.ExpectMap()) return;
  for (auto it = node.raw().begin(); it != node.raw().end(); ++it) {
    const std::string user = it->first.IsScalar() ? it->first.Scalar() : "";
    if (user.empty() || absl::StrContains(user, ':')) {
      node.ErrorAt(user, "a user name must be non-empty and without ':'");
      continue;
    }
    const std::string hash = node.GetString(user, "");
    if (!IsBcryptHash(hash)) {
      node.ErrorAt(user,
                   "not a bcrypt hash (expected $2y$, $2b$ or $2a$ with a cost, as "
                   "`htpasswd -nBC 10 \"\" | tr -d ':\\n'` prints)");
      continue;
    }
    cfg->users[user] = hash;
  }
}

}  // namespace

absl::StatusOr<WebConfig> ParseWebConfig(const std::string& text, const std::string& path) {
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(path, ":", e.mark.line + 1, ":",
                                                   e.mark.column + 1, ": invalid YAML: ", e.msg));
  }
  ConfigErrors errors(path);
  ConfigNode top(root, "", &errors);
  WebConfig cfg;
  if (!top.IsDefined()) return cfg;  // an empty file: plain HTTP, no auth
  if (!top.IsMap()) {
    top.Error("a web config file must be a YAML mapping");
    return errors.ToStatus();
  }
  CheckWebKeys(top, {"tls_server_config", "http_server_config", "basic_auth_users"},
               {"rate_limit"});
  const size_t slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "" : path.substr(0, slash);
  cfg.tls = ParseTls(top.Child("tls_server_config"), dir);
  ParseHttp(top.Child("http_server_config"), &cfg);
  ParseUsers(top.Child("basic_auth_users"), &cfg);
  if (!errors.empty()) return errors.ToStatus();
  return cfg;
}

absl::StatusOr<WebConfig> LoadWebConfig(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot read web config file"));
  std::stringstream ss;
  ss << in.rdbuf();
  return ParseWebConfig(ss.str(), path);
}

std::string TlsPriorities(TlsVersion min, TlsVersion max) {
  static const char* const kNames[] = {"TLS1.0", "TLS1.1", "TLS1.2", "TLS1.3"};
  std::string out = "NORMAL:-VERS-ALL";
  for (int v = static_cast<int>(max); v >= static_cast<int>(min); --v) {
    absl::StrAppend(&out, ":+VERS-", kNames[v]);
  }
  return out;
}

bool IsBcryptHash(absl::string_view hash) {
  if (hash.size() != 60) return false;
  if (!absl::StartsWith(hash, "$2a$") && !absl::StartsWith(hash, "$2b$") &&
      !absl::StartsWith(hash, "$2y$")) {
    return false;
  }
  if (!absl::ascii_isdigit(hash[4]) || !absl::ascii_isdigit(hash[5]) || hash[6] != '$') {
    return false;
  }
  for (char c : hash.substr(7)) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '/') return false;
  }
  return true;
}

std::optional<std::pair<std::string, std::string>> ParseBasicAuth(absl::string_view header) {
  header = absl::StripAsciiWhitespace(header);
  if (header.size() < 6 || !absl::EqualsIgnoreCase(header.substr(0, 6), "basic ")) {
    return std::nullopt;
  }
  std::string decoded;
  if (!absl::Base64Unescape(absl::StripAsciiWhitespace(header.substr(6)), &decoded)) {
    return std::nullopt;
  }
  const size_t colon = decoded.find(':');
  if (colon == std::string::npos) return std::nullopt;
  return std::make_pair(decoded.substr(0, colon), decoded.substr(colon + 1));
}

}  // namespace pgwarden
