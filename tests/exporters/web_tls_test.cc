// The HTTP endpoint with a web config file, on real loopback sockets:
// TLS (versions, client certificates), basic auth, extra headers, re-reading
// a changed file, and the lifecycle route. Certificates are made here with
// the openssl command.

#include <httplib.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <iostream>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "catch2/catch.hpp"
#include "devtools/process.h"
#include "exporters/basic_auth.h"
#include "exporters/http_server.h"
#include "tests/integration/run_pgwarden.h"

namespace pgwarden {
namespace {

void Openssl(const std::string& dir, std::vector<std::string> args) {
  ProcessOptions p;
  p.argv = {"openssl"};
  p.argv.insert(p.argv.end(), args.begin(), args.end());
  p.cwd = dir;
  std::string out;
  absl::StatusOr<int> code = RunCommand(p, absl::Seconds(30), &out);
  INFO(out);
  REQUIRE(code.ok());
  REQUIRE(*code == 0);
}

// WriteFile replaces `path` at once (written beside it, then renamed), as
// a deploy tool does.
void WriteFile(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  std::ofstream(tmp) << text;
  REQUIRE(std::rename(tmp.c_str(), path.c_str()) == 0);
}

// Pki is a temp folder with two CAs, a server certificate for 127.0.0.1
// from each, and a client certificate from each.
struct Pki {
  Pki() : dir(absl::StrCat("/tmp/pgwarden-webtls-", ::getpid())) {
    REQUIRE(std::system(absl::StrCat("rm -rf ", dir, " && mkdir -p ", dir).c_str()) == 0);
    WriteFile(dir + "/server.ext", "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n");
    WriteFile(dir + "/client.ext", "extendedKeyUsage=clientAuth\n");
    for (const char* ca : {"ca1", "ca2"}) {
      Openssl(dir, {"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-keyout", absl::StrCat(ca, ".key"), "-out", absl::StrCat(ca, ".pem"),
                    "-days", "2", "-subj", absl::StrCat("/CN=", ca)});
      Issue(ca, absl::StrCat("server-", ca), "server.ext");
      Issue(ca, absl::StrCat("client-", ca), "client.ext");
    }
  }
  ~Pki() { std::system(absl::StrCat("rm -rf ", dir).c_str()); }

  void Issue(const std::string& ca, const std::string& name, const std::string& ext) {
    Openssl(dir, {"req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                  "-keyout", name + ".key", "-out", name + ".csr", "-subj", "/CN=" + name});
    Openssl(dir, {"x509", "-req", "-in", name + ".csr", "-CA", ca + ".pem", "-CAkey", ca + ".key",
                  "-CAcreateserial", "-out", name + ".pem", "-days", "2", "-extfile", ext});
  }
  std::string Path(const std::string& name) const { return absl::StrCat(dir, "/", name); }

  std::string dir;
};

Pki& SharedPki() {
  static Pki* pki = new Pki();
  return *pki;
}

// Server is an HttpServer on a free loopback port with web config `yaml`
// (written to web.yml in the Pki folder; "" for none) and `handlers`.
struct Server {
  explicit Server(const std::string& yaml, HttpServerHandlers handlers = {})
      : registry(std::make_shared<prometheus::Registry>()),
        exposition(std::make_shared<Exposition>(registry, absl::Milliseconds(100))),
        server(exposition, std::move(handlers), HttpLimits{}, registry.get(), {}) {
    prometheus::BuildCounter().Name("test_marker_total").Help("h").Register(*registry).Add({});
    // As `pgwarden run` does: a peer that closed mid-handshake must not
    // kill the process.
    ::signal(SIGPIPE, SIG_IGN);
    if (!yaml.empty()) WriteFile(config, yaml);
    const absl::Status s = server.Start("127.0.0.1:0", yaml.empty() ? "" : config);
    INFO(s.message());
    REQUIRE(s.ok());
  }

  std::string config = SharedPki().Path("web.yml");
  std::shared_ptr<prometheus::Registry> registry;
  std::shared_ptr<Exposition> exposition;
  HttpServer server;
};

// Tls is a client trusting `ca`, presenting `client` (a name in the Pki, or
// "" for none), at most `max_version` (0: any).
std::unique_ptr<httplib::SSLClient> Tls(int port, const std::string& ca,
                                        const std::string& client = "", int max_version = 0) {
  const Pki& pki = SharedPki();
  auto c = client.empty()
               ? std::make_unique<httplib::SSLClient>("127.0.0.1", port)
               : std::make_unique<httplib::SSLClient>("127.0.0.1", port, pki.Path(client + ".pem"),
                                                      pki.Path(client + ".key"));
  c->set_ca_cert_path(pki.Path(ca + ".pem"));
  c->enable_server_certificate_verification(true);
  c->set_connection_timeout(5);
  c->set_read_timeout(5);
  if (max_version != 0) SSL_CTX_set_max_proto_version(c->ssl_context(), max_version);
  return c;
}

std::string TlsConfig(const std::string& extra = "") {
  const Pki& pki = SharedPki();
  return absl::StrCat("tls_server_config:\n  cert_file: ", pki.Path("server-ca1.pem"),
                      "\n  key_file: ", pki.Path("server-ca1.key"), "\n", extra);
}

TEST_CASE("Web TLS: a scrape over TLS works - plain HTTP does not", "[integration][web]") {
  Server s(TlsConfig());
  auto res = Tls(s.server.port(), "ca1")->Get("/metrics");
  REQUIRE(res);
  CHECK(res->status == 200);
  CHECK(absl::StrContains(res->body, "test_marker_total"));
  httplib::Client plain("127.0.0.1", s.server.port());
  plain.set_read_timeout(3);
  auto p = plain.Get("/metrics");
  CHECK((!p || p->status != 200));
  // A client that does not trust the server's CA refuses it.
  CHECK_FALSE(Tls(s.server.port(), "ca2")->Get("/metrics"));
}

TEST_CASE("Web TLS: min_version TLS13 refuses a TLS 1.2 client", "[integration][web]") {
  Server s(TlsConfig("  min_version: TLS13\n"));
  CHECK_FALSE(Tls(s.server.port(), "ca1", "", TLS1_2_VERSION)->Get("/metrics"));
  auto ok = Tls(s.server.port(), "ca1")->Get("/metrics");
  REQUIRE(ok);
  CHECK(ok->status == 200);
  Server twelve(TlsConfig());
  auto old = Tls(twelve.server.port(), "ca1", "", TLS1_2_VERSION)->Get("/metrics");
  REQUIRE(old);
  CHECK(old->status == 200);
}

TEST_CASE("Web TLS: RequireAndVerifyClientCert refuses no certificate and another CA's",
          "[integration][web]") {
  for (const char* version : {"TLS12", "TLS13"}) {
    INFO(version);
    Server s(
        TlsConfig(absl::StrCat("  client_ca_file: ", SharedPki().Path("ca1.pem"),
                               "\n  client_auth_type: RequireAndVerifyClientCert\n",
                               "  min_version: ", version, "\n  max_version: ", version, "\n")));
    const int port = s.server.port();
    auto none = Tls(port, "ca1")->Get("/metrics");
    CHECK((!none || none->status != 200));
    auto other = Tls(port, "ca1", "client-ca2")->Get("/metrics");
    CHECK((!other || other->status != 200));
    auto good = Tls(port, "ca1", "client-ca1")->Get("/metrics");
    REQUIRE(good);
    CHECK(good->status == 200);
  }
}

TEST_CASE("Web TLS: basic auth right wrong and missing - headers on every answer",
          "[integration][web]") {
  const std::string hash = BcryptHash("s3cret", 10);
  Server s(TlsConfig(absl::StrCat("http_server_config:\n  headers:\n    X-Frame-Options: deny\n",
                                  "basic_auth_users:\n  prometheus: ", hash, "\n")));
  auto client = Tls(s.server.port(), "ca1");
  auto missing = client->Get("/metrics");
  REQUIRE(missing);
  CHECK(missing->status == 401);
  CHECK(missing->get_header_value("WWW-Authenticate") == "Basic realm=\"pgwarden\"");
  CHECK(missing->get_header_value("X-Frame-Options") == "deny");
  client->set_basic_auth("prometheus", "wrong");
  auto wrong = client->Get("/healthz");
  REQUIRE(wrong);
  CHECK(wrong->status == 401);
  CHECK(absl::StrContains(wrong->get_header_value("WWW-Authenticate"), "Basic"));
  client->set_basic_auth("nobody", "s3cret");
  auto unknown = client->Get("/");
  REQUIRE(unknown);
  CHECK(unknown->status == 401);

  client->set_basic_auth("prometheus", "s3cret");
  client->set_keep_alive(true);
  absl::Time t0 = absl::Now();
  auto first = client->Get("/metrics");
  const absl::Duration bcrypt = absl::Now() - t0;
  REQUIRE(first);
  CHECK(first->status == 200);
  CHECK(first->get_header_value("X-Frame-Options") == "deny");
  absl::Duration cached = absl::InfiniteDuration();
  for (int i = 0; i < 5; ++i) {
    t0 = absl::Now();
    auto again = client->Get("/metrics");
    cached = std::min(cached, absl::Now() - t0);
    REQUIRE(again);
    CHECK(again->status == 200);
  }
  auto fresh = Tls(s.server.port(), "ca1");  // a new connection: a full handshake
  fresh->set_basic_auth("prometheus", "s3cret");
  t0 = absl::Now();
  auto handshake = fresh->Get("/metrics");
  const absl::Duration new_conn = absl::Now() - t0;
  REQUIRE(handshake);
  CHECK(handshake->status == 200);
  std::cout << "TLS + basic auth (bcrypt cost 10) /metrics: first " << absl::FormatDuration(bcrypt)
            << ", remembered (kept-alive connection, best of 5) " << absl::FormatDuration(cached)
            << ", remembered on a new connection " << absl::FormatDuration(new_conn) << "\n";
}

TEST_CASE("Web TLS: a changed file applies without restart - a bad one keeps the old",
          "[integration][web]") {
  const std::string alice = BcryptHash("a", 4);
  const std::string bob = BcryptHash("b", 4);
  const std::string users = absl::StrCat("basic_auth_users:\n  alice: ", alice, "\n");
  Server s(TlsConfig(users));
  auto as = [&](const char* user, const char* password, const std::string& ca = "ca1") {
    auto c = Tls(s.server.port(), ca);
    c->set_basic_auth(user, password);
    auto r = c->Get("/metrics");
    return r ? r->status : -1;
  };
  auto within = [](absl::Duration d, const std::function<bool()>& ok) {
    for (const absl::Time end = absl::Now() + d; absl::Now() < end;) {
      if (ok()) return true;
      absl::SleepFor(absl::Milliseconds(100));
    }
    return ok();
  };
  CHECK(as("alice", "a") == 200);
  CHECK(as("bob", "b") == 401);
  WriteFile(s.config, TlsConfig(absl::StrCat(users, "  bob: ", bob, "\n")));
  CHECK(within(absl::Seconds(5), [&] { return as("bob", "b") == 200; }));
  CHECK(as("alice", "a") == 200);

  // A rewrite that is wrong is logged and the old settings stay.
  WriteFile(s.config, TlsConfig("basic_auth_users:\n  alice: plain-text\n"));
  absl::SleepFor(absl::Milliseconds(2500));
  CHECK(as("bob", "b") == 200);
  CHECK(as("alice", "a") == 200);

  // A renewed certificate (here from the other CA) applies to the next
  // handshake.
  const Pki& pki = SharedPki();
  WriteFile(s.config, absl::StrCat("tls_server_config:\n  cert_file: ", pki.Path("server-ca2.pem"),
                                   "\n  key_file: ", pki.Path("server-ca2.key"), "\n", users));
  CHECK(within(absl::Seconds(5), [&] { return as("alice", "a", "ca2") == 200; }));
  CHECK(as("alice", "a", "ca1") == -1);
  CHECK(as("bob", "b", "ca2") == 401);
}

TEST_CASE("Web: the lifecycle route", "[integration][web]") {
  Server off("");
  httplib::Client c("127.0.0.1", off.server.port());
  auto forbidden = c.Post("/-/reload", "", "text/plain");
  REQUIRE(forbidden);
  CHECK(forbidden->status == 403);
  CHECK(absl::StrContains(forbidden->body, "lifecycle API is not enabled"));
  auto get = c.Get("/-/reload");
  REQUIRE(get);
  CHECK(get->status == 405);
  auto metrics = c.Get("/metrics");
  REQUIRE(metrics);
  CHECK(metrics->status == 200);

  std::atomic<int> calls{0};
  std::atomic<bool> fail{false};
  HttpServerHandlers h;
  h.reload = [&]() -> absl::Status {
    ++calls;
    if (fail) return absl::InvalidArgumentError("pgwarden.yml:3: interval: expected a duration");
    return absl::OkStatus();
  };
  Server on("", h);
  httplib::Client d("127.0.0.1", on.server.port());
  auto ok = d.Post("/-/reload", "ignored body", "text/plain");
  REQUIRE(ok);
  CHECK(ok->status == 200);
  CHECK(calls == 1);
  fail = true;
  auto bad = d.Post("/-/reload", "", "text/plain");
  REQUIRE(bad);
  CHECK(bad->status == 500);
  CHECK(absl::StrContains(bad->body, "pgwarden.yml:3: interval: expected a duration"));
  CHECK(calls == 2);
  auto put = d.Put("/-/reload", "", "text/plain");
  REQUIRE(put);
  CHECK(put->status == 405);
  CHECK(calls == 2);
}

TEST_CASE("Web: pgwarden run refuses a web config with a non-bcrypt hash", "[integration][web]") {
  const Pki& pki = SharedPki();
  const std::string web = pki.Path("bad-web.yml");
  WriteFile(web, "basic_auth_users:\n  scraper: hunter2\n");
  const std::string config = pki.Path("pgwarden.yml");
  WriteFile(config,
            "environment: production\ntargets:\n  - name: shop\n    dsn: \"dbname=shop\"\n");
  testing::CommandResult flag = testing::Run({"run", "--config", config, "--web.config.file", web});
  INFO(flag.output);
  CHECK(flag.code == 2);
  CHECK(absl::StrContains(flag.output, web + ":2:"));
  CHECK(absl::StrContains(flag.output, "basic_auth_users.scraper: not a bcrypt hash"));
  CHECK_FALSE(absl::StrContains(flag.output, "hunter2"));
  WriteFile(config, absl::StrCat("environment: production\nweb_config_file: ", web,
                                 "\ntargets:\n  - name: shop\n    dsn: \"dbname=shop\"\n"));
  testing::CommandResult key = testing::Run({"run", "--config", config});
  INFO(key.output);
  CHECK(key.code == 2);
  CHECK(absl::StrContains(key.output, "basic_auth_users.scraper: not a bcrypt hash"));
}

}  // namespace
}  // namespace pgwarden
