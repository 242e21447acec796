// The web config file (exporter-toolkit format) read strictly: every error
// names the file, line and key; bcrypt hashes checked with libxcrypt, and a
// verified password remembered.

#include "exporters/web_config.h"

#include <iostream>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/time/clock.h"
#include "catch2/catch.hpp"
#include "exporters/basic_auth.h"

namespace pgwarden {
namespace {

std::string ErrorOf(const std::string& text) {
  absl::StatusOr<WebConfig> cfg = ParseWebConfig(text, "/etc/pgwarden/web.yml");
  REQUIRE_FALSE(cfg.ok());
  return std::string(cfg.status().message());
}

const char kHash[] = "$2y$10$X0h1gDsPszWURQaxFh.zoubFi6DXncSjhoQNJgRrnGs7EsimhC7zG";

TEST_CASE("Web config: a full file parses - paths resolve against its folder", "[unit][web]") {
  absl::StatusOr<WebConfig> cfg = ParseWebConfig(
      "tls_server_config:\n  cert_file: server.pem\n  key_file: /keys/server.key\n"
      "  client_ca_file: ca.pem\n  client_auth_type: RequireAndVerifyClientCert\n"
      "  min_version: TLS13\nhttp_server_config:\n  headers:\n"
      "    x-frame-options: deny\n    Strict-Transport-Security: max-age=3600\n"
      "basic_auth_users:\n  prometheus: " +
          std::string(kHash) + "\n",
      "/etc/pgwarden/web.yml");
  REQUIRE(cfg.ok());
  REQUIRE(cfg->tls.has_value());
  CHECK(cfg->tls->cert_file == "/etc/pgwarden/server.pem");
  CHECK(cfg->tls->key_file == "/keys/server.key");
  CHECK(cfg->tls->client_ca_file == "/etc/pgwarden/ca.pem");
  CHECK(cfg->tls->client_auth == ClientAuth::kRequireAndVerify);
  CHECK(cfg->tls->min_version == TlsVersion::kTls13);
  CHECK(cfg->tls->max_version == TlsVersion::kTls13);
  REQUIRE(cfg->headers.size() == 2);
  CHECK(cfg->headers[0].first == "X-Frame-Options");  // canonical spelling
  CHECK(cfg->headers[1].second == "max-age=3600");
  CHECK(cfg->users.at("prometheus") == kHash);
  absl::StatusOr<WebConfig> empty = ParseWebConfig("", "web.yml");
  REQUIRE(empty.ok());
  CHECK_FALSE(empty->tls.has_value());
  CHECK(empty->users.empty());
}

TEST_CASE("Web config: unknown and unsupported keys are errors naming file line and key",
          "[unit][web]") {
  const std::string unknown =
      ErrorOf("tls_server_config:\n  cert_file: a.pem\n  key_file: a.key\n  cert_fil: x\n");
  CHECK(absl::StrContains(unknown, "/etc/pgwarden/web.yml:4:"));
  CHECK(absl::StrContains(unknown, "tls_server_config.cert_fil: unknown key"));
  const std::string top = ErrorOf("basic_auth_user:\n  a: b\n");
  CHECK(absl::StrContains(top, "web.yml:"));
  CHECK(absl::StrContains(top, ": basic_auth_user: unknown key"));
  const std::string refused =
      ErrorOf("tls_server_config:\n  cert_file: a.pem\n  key_file: a.key\n  cipher_suites: [x]\n");
  CHECK(absl::StrContains(refused, "tls_server_config.cipher_suites: is not supported"));
  CHECK(absl::StrContains(ErrorOf("http_server_config:\n  http2: true\n"),
                          "http_server_config.http2: is not supported"));
  CHECK(absl::StrContains(ErrorOf("rate_limit:\n  burst: 1\n"), "rate_limit: is not supported"));
  CHECK(absl::StrContains(ErrorOf("tls_server_config:\n  key_file: a.key\n"),
                          "tls_server_config.cert_file: missing required key"));
  CHECK(absl::StrContains(ErrorOf("tls_server_config: [1]\n"), "tls_server_config"));
  CHECK(absl::StrContains(ErrorOf("basic_auth_users: [\n"), "invalid YAML"));
}

TEST_CASE("Web config: TLS values are checked", "[unit][web]") {
  const std::string base = "tls_server_config:\n  cert_file: a.pem\n  key_file: a.key\n";
  const std::string auth = ErrorOf(base + "  client_auth_type: Always\n");
  CHECK(absl::StrContains(auth, "web.yml:4:"));
  CHECK(absl::StrContains(auth, "tls_server_config.client_auth_type: expected NoClientCert"));
  CHECK(absl::StrContains(ErrorOf(base + "  min_version: TLS14\n"),
                          "tls_server_config.min_version: expected TLS10, TLS11, TLS12 or TLS13"));
  CHECK(absl::StrContains(ErrorOf(base + "  min_version: TLS13\n  max_version: TLS12\n"),
                          "tls_server_config.min_version: is above max_version"));
  CHECK(absl::StrContains(ErrorOf(base + "  client_auth_type: RequireAndVerifyClientCert\n"),
                          "tls_server_config.client_auth_type: needs client_ca_file"));
  CHECK(absl::StrContains(ErrorOf(base + "  client_ca_file: ca.pem\n"),
                          "tls_server_config.client_ca_file: is set but client_auth_type is "
                          "NoClientCert"));
}

TEST_CASE("Web config: headers and users are checked", "[unit][web]") {
  const std::string server = ErrorOf("http_server_config:\n  headers:\n    Server: x\n");
  CHECK(absl::StrContains(server, "web.yml:3:"));
  CHECK(absl::StrContains(server, "http_server_config.headers.Server: header not allowed"));
  CHECK(absl::StrContains(ErrorOf("http_server_config:\n  headers:\n    X-Frame-Options: allow\n"),
                          "http_server_config.headers.X-Frame-Options: expected deny or "
                          "sameorigin"));
  CHECK(absl::StrContains(
      ErrorOf("http_server_config:\n  headers:\n    X-Content-Type-Options: sniff\n"),
      "X-Content-Type-Options: expected nosniff"));
  const std::string plain = ErrorOf("basic_auth_users:\n  alice: secret\n");
  CHECK(absl::StrContains(plain, "web.yml:2:"));
  CHECK(absl::StrContains(plain, "basic_auth_users.alice: not a bcrypt hash"));
  CHECK_FALSE(absl::StrContains(plain, "secret"));  // the value is not echoed
  CHECK(absl::StrContains(ErrorOf("basic_auth_users:\n  bob: $1$abcdefgh$0123456789012345678901\n"),
                          "basic_auth_users.bob: not a bcrypt hash"));
}

TEST_CASE("Web config: bcrypt hashes priorities and the Authorization header", "[unit][web]") {
  CHECK(IsBcryptHash(kHash));
  CHECK(IsBcryptHash(std::string("$2b$") + (kHash + 4)));
  CHECK(IsBcryptHash(std::string("$2a$") + (kHash + 4)));
  CHECK_FALSE(IsBcryptHash(std::string("$2x$") + (kHash + 4)));
  CHECK_FALSE(IsBcryptHash(std::string(kHash).substr(0, 59)));
  CHECK(TlsPriorities(TlsVersion::kTls12, TlsVersion::kTls13) ==
        "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2");
  CHECK(TlsPriorities(TlsVersion::kTls13, TlsVersion::kTls13) == "NORMAL:-VERS-ALL:+VERS-TLS1.3");
  auto cred = ParseBasicAuth("Basic " + absl::Base64Escape("alice:pa:ss"));
  REQUIRE(cred.has_value());
  CHECK(cred->first == "alice");
  CHECK(cred->second == "pa:ss");
  CHECK_FALSE(ParseBasicAuth("Bearer abc").has_value());
  CHECK_FALSE(ParseBasicAuth("Basic !!!").has_value());
  CHECK_FALSE(ParseBasicAuth("Basic " + absl::Base64Escape("nocolon")).has_value());
}

TEST_CASE("Basic auth: bcrypt right and wrong - a success is remembered", "[unit][web]") {
  const std::string hash = BcryptHash("s3cret", 10);
  REQUIRE(IsBcryptHash(hash));
  CHECK(BcryptMatches("s3cret", hash));
  CHECK_FALSE(BcryptMatches("s3cret!", hash));
  CHECK_FALSE(BcryptMatches("s3cret", "not a hash"));

  BasicAuth auth;
  CHECK_FALSE(auth.enabled());
  auth.SetUsers({{"alice", hash}});
  CHECK(auth.enabled());
  CHECK_FALSE(auth.Check("alice", "wrong"));
  CHECK_FALSE(auth.Check("mallory", "s3cret"));
  absl::Time t0 = absl::Now();
  CHECK(auth.Check("alice", "s3cret"));
  const absl::Duration first = absl::Now() - t0;
  t0 = absl::Now();
  CHECK(auth.Check("alice", "s3cret"));
  const absl::Duration cached = absl::Now() - t0;
  t0 = absl::Now();
  CHECK_FALSE(auth.Check("nobody", "x"));
  const absl::Duration unknown = absl::Now() - t0;
  std::cout << "basic auth (bcrypt cost 10): first " << absl::FormatDuration(first)
            << ", remembered " << absl::FormatDuration(cached) << ", unknown user "
            << absl::FormatDuration(unknown) << "\n";
  CHECK(cached * 4 < first);
  // An unknown user pays a bcrypt too: its time tells nothing.
  CHECK(unknown * 4 > first);
  // A new hash for the user: the remembered password no longer opens.
  auth.SetUsers({{"alice", BcryptHash("other", 4)}});
  CHECK_FALSE(auth.Check("alice", "s3cret"));
  CHECK(auth.Check("alice", "other"));
}

}  // namespace
}  // namespace pgwarden
