// Structured logs from the real agent: every stderr line is one JSON object,
// the target's lines name it, and no password from the config is ever
// written, also when the connection fails. The config key, the flag that
// overrides it, and the secrets the config registers with the logger.
#include <csignal>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "agent/config.h"
#include "agent/config_secrets.h"
#include "catch2/catch.hpp"
#include "devtools/local_postgres.h"
#include "devtools/process.h"
#include "nlohmann/json.hpp"
#include "tests/integration/run_pgwarden.h"
#include "tests/support/agent_process.h"

namespace pgwarden::testing {
namespace {

constexpr char kPassword[] = "Wh1sper-s3cret";
constexpr char kWrongPassword[] = "Wr0ng-s3cret";
constexpr char kRoutingKey[] = "R0UTINGKEY0000000000000000000000";

// StartServer is PostgreSQL where the role `watcher` logs in with
// kPassword only (no trust entry for it).
std::unique_ptr<LocalPostgres> StartServer() {
  LocalPostgresOptions o;
  o.trusted_roles = {"postgres"};
  auto pg = LocalPostgres::Start(o);
  REQUIRE(pg.ok());
  REQUIRE((*pg)
              ->Psql(absl::StrCat("CREATE ROLE watcher LOGIN PASSWORD '", kPassword,
                                  "'; GRANT pg_monitor TO watcher"))
              .ok());
  REQUIRE((*pg)->Psql("CREATE DATABASE shop").ok());
  REQUIRE(
      (*pg)->Psql("CREATE TABLE t AS SELECT g AS id FROM generate_series(1, 100) g", "shop").ok());
  return std::move(*pg);
}

// Yaml has target `shop` (key/value DSN, right password) and target
// `broken` (URI DSN, wrong password), and `log_format: <format>` unless
// `format` is empty.
std::string Yaml(const LocalPostgres& pg, const std::string& format) {
  return absl::StrCat(
      format.empty() ? "" : absl::StrCat("log_format: ", format, "\n"),
      "log_level: debug\ninterval: 500ms\nstate_dir: ", pg.dir(),
      "/state\ntargets:\n  - name: shop\n    dsn: \"", pg.Dsn("shop", "watcher", kPassword),
      "\"\n  - name: broken\n    dsn: \"postgresql://watcher:", kWrongPassword,
      "@127.0.0.1:", pg.port(), "/shop?connect_timeout=5\"\n",
      "alerting:\n  sinks:\n    - name: oncall\n      type: pagerduty\n",
      "      url: http://127.0.0.1:9/v2/enqueue\n      routing_key: \"", kRoutingKey, "\"\n");
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines = absl::StrSplit(text, '\n', absl::SkipEmpty());
  return lines;
}

}  // namespace

TEST_CASE("Logs: the real agent writes JSON lines naming the target and never a password",
          "[integration][log]") {
  auto pg = StartServer();
  auto agent = AgentProcess::Start(pg->dir(), Yaml(*pg, "json"));
  INFO(agent.status().message());
  REQUIRE(agent.ok());
  // Both targets have had a few passes: shop samples, broken fails to log in.
  const bool both = WaitUntil(
      [&] {
        const std::string log = (*agent)->Log();
        return absl::StrContains(log, "target shop: sampling") &&
               absl::StrContains(log, "password authentication failed");
      },
      absl::Seconds(20));
  absl::SleepFor(absl::Seconds(2));
  (*agent)->Kill(SIGTERM);
  const std::string log = (*agent)->Log();
  INFO(log);
  REQUIRE(both);
  CHECK_FALSE(absl::StrContains(log, kPassword));
  CHECK_FALSE(absl::StrContains(log, kWrongPassword));
  CHECK_FALSE(absl::StrContains(log, kRoutingKey));
  int shop = 0;
  int broken = 0;
  for (const std::string& line : Lines(log)) {
    INFO(line);
    nlohmann::json j;
    REQUIRE_NOTHROW(j = nlohmann::json::parse(line));
    REQUIRE(j.is_object());
    for (const char* key : {"ts", "level", "component", "msg"}) {
      REQUIRE(j.contains(key));
      CHECK(j[key].is_string());
    }
    const std::string msg = j["msg"];
    if (absl::StartsWith(msg, "target shop:")) {
      ++shop;
      CHECK(j.value("target", "") == "shop");
    }
    if (absl::StartsWith(msg, "target broken:")) {
      ++broken;
      CHECK(j.value("target", "") == "broken");
      CHECK(j["level"] == "warn");
    }
  }
  CHECK(shop > 0);
  CHECK(broken > 0);
  WARN(absl::StrCat(Lines(log).size(), " lines, ", shop, " of target shop, ", broken,
                    " of target broken"));
}

TEST_CASE("Logs: --log.format overrides log_format - bad values exit 2 naming them",
          "[integration][log]") {
  auto pg = StartServer();
  absl::StatusOr<int> port = FreeTcpPort();
  REQUIRE(port.ok());
  const std::string config = pg->dir() + "/pgwarden.yaml";
  std::ofstream(config) << "listen: 127.0.0.1:" << *port << "\n" << Yaml(*pg, "json");
  ProcessOptions p;
  p.argv = {PGWARDEN_BINARY, "run", "--config", config, "--log.format", "logfmt"};
  p.stderr_path = pg->dir() + "/logfmt.log";
  absl::StatusOr<pid_t> pid = SpawnProcess(p);
  REQUIRE(pid.ok());
  auto read = [&] {
    std::ifstream in(p.stderr_path);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  };
  const bool seen = WaitUntil([&] { return absl::StrContains(read(), "target shop: sampling"); },
                              absl::Seconds(20));
  StopProcess(*pid, absl::Seconds(10));
  const std::string log = read();
  INFO(log);
  REQUIRE(seen);
  CHECK_FALSE(absl::StrContains(log, kPassword));
  CHECK_FALSE(absl::StrContains(log, kWrongPassword));
  for (const std::string& line : Lines(log)) {
    INFO(line);
    CHECK(absl::StartsWith(line, "ts="));
    CHECK(absl::StrContains(line, " level="));
    CHECK(absl::StrContains(line, " msg="));
  }
  CHECK(absl::StrContains(log, " component=agent target=shop caller="));

  CommandResult flag = Run({"run", "--config", config, "--log.format", "xml"});
  CHECK(flag.code == 2);
  CHECK(absl::StrContains(flag.output, "--log.format: expected text, logfmt or json"));
  std::ofstream(config) << "log_format: xml\n" << Yaml(*pg, "");
  CommandResult key = Run({"run", "--config", config});
  CHECK(key.code == 2);
  CHECK(absl::StrContains(key.output, config + ":1:"));
  CHECK(absl::StrContains(key.output, "log_format: expected text, logfmt or json"));
}

TEST_CASE("Logs: the config's secrets are the ones registered with the logger",
          "[integration][log]") {
  AgentConfig cfg;
  cfg.targets.resize(3);
  cfg.targets[0].dsn = "host=db user=u password='q uoted\\'pw' dbname=shop";
  cfg.targets[1].dsn = "postgresql://u:p%40ssw0rd@db:5432/shop";
  cfg.targets[2].dsn = "host=db user=u dbname=shop";
  cfg.restore_dsn = "host=db user=restorer password=rest0re-pw";
  SinkConfig pd;
  pd.type = "pagerduty";
  pd.urls = {"https://events.pagerduty.com/v2/enqueue"};
  pd.routing_key = kRoutingKey;
  SinkConfig hook;
  hook.type = "webhook";
  hook.urls = {"https://bot:h00k-pw@hooks.example.com/in/T0KEN?sig=1"};
  hook.hmac_secret = "hmac-s3cret";
  SinkConfig slack;
  slack.type = "slack";
  slack.urls = {"https://hooks.slack.com/services/T000/B000/XXXXSECRET"};
  cfg.alerting.sinks = {pd, hook, slack};
  const std::vector<std::string> expected = {
      "q uoted'pw",  "p@ssw0rd", "rest0re-pw",      kRoutingKey,
      "hmac-s3cret", "h00k-pw",  "/in/T0KEN?sig=1", "/services/T000/B000/XXXXSECRET"};
  CHECK(ConfigSecrets(cfg) == expected);
}

}  // namespace pgwarden::testing
