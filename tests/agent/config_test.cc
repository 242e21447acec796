#include "agent/config.h"

#include "catch2/catch.hpp"
#include "tests/support/product_example.h"

namespace pgwarden {
namespace {

using testing::kProductExample;

std::string ErrorOf(const std::string& yaml) {
  absl::StatusOr<AgentConfig> c = ParseConfig(yaml, "pgwarden.yaml");
  REQUIRE_FALSE(c.ok());
  CHECK(absl::IsInvalidArgument(c.status()));
  return std::string(c.status().message());
}

TEST_CASE("Config: the PRODUCT.md example loads unchanged", "[config]") {
  absl::StatusOr<AgentConfig> c = ParseConfig(kProductExample, "pgwarden.yaml");
  INFO(c.status().message());
  REQUIRE(c.ok());
  CHECK(c->environment == "production");
  CHECK(c->listen == "127.0.0.1:9331");
  CHECK(c->interval == absl::Seconds(1));
  REQUIRE(c->targets.size() == 1);
  CHECK(c->targets[0].name == "shop");
  CHECK(c->targets[0].dsn == "host=127.0.0.1 port=5432 dbname=shop user=pgwarden");
  CHECK(c->targets[0].include == std::vector<std::string>{"public.*"});
  REQUIRE(c->alerting.sinks.size() == 1);
  CHECK(c->alerting.sinks[0].type == "pagerduty");
  CHECK(c->alerting.sinks[0].routing_key == "R0UTINGKEY0000000000000000000000");
  CHECK(c->remediation.mode == RemediationMode::kEnforce);
  // Defaults for everything else.
  CHECK(c->detectors.rows.detector == "level_drop");
  CHECK(c->resolve_after == absl::Seconds(60));
}

TEST_CASE("Config: unknown key is named with its path and line", "[config]") {
  std::string e = ErrorOf(
      "environment: production\ntargets:\n  - name: shop\n    dsn: \"dbname=x\"\n"
      "    tabels:\n      include: [\"*\"]\n");
  CHECK(e.find("pgwarden.yaml:5:") != std::string::npos);
  CHECK(e.find("targets[0].tabels: unknown key") != std::string::npos);
}

TEST_CASE("Config: unknown top-level key", "[config]") {
  std::string e = ErrorOf("intervall: 1s\ntargets:\n  - {name: a, dsn: \"dbname=a\"}\n");
  CHECK(e.find("pgwarden.yaml:1:") != std::string::npos);
  CHECK(e.find("intervall: unknown key") != std::string::npos);
}

TEST_CASE("Config: bad type is named", "[config]") {
  std::string e = ErrorOf(
      "targets:\n  - name: shop\n    dsn: \"dbname=x\"\n    tables:\n      include: public.*\n");
  CHECK(e.find("targets[0].tables.include: expected a list of strings") != std::string::npos);
  CHECK(e.find("pgwarden.yaml:5:") != std::string::npos);
}

TEST_CASE("Config: bad and too small durations are named", "[config]") {
  std::string e = ErrorOf("interval: 1 second\ntargets:\n  - {name: a, dsn: \"dbname=a\"}\n");
  CHECK(e.find("pgwarden.yaml:1:") != std::string::npos);
  CHECK(e.find("interval: expected a duration") != std::string::npos);
  std::string e2 = ErrorOf("interval: 50ms\ntargets:\n  - {name: a, dsn: \"dbname=a\"}\n");
  CHECK(e2.find("interval: must be at least 100ms") != std::string::npos);
}

TEST_CASE("Config: no targets is an error", "[config]") {
  CHECK(ErrorOf("environment: production\n").find("targets: missing") != std::string::npos);
  CHECK(ErrorOf("targets: []\n").find("targets: must name at least one") != std::string::npos);
}

TEST_CASE("Config: every error is reported at once", "[config]") {
  std::string e =
      ErrorOf("interval: soon\nbogus: 1\ntargets:\n  - name: a\n  - name: a\n    dsn: x\n");
  CHECK(e.find("interval:") != std::string::npos);
  CHECK(e.find("bogus: unknown key") != std::string::npos);
  CHECK(e.find("targets[0].dsn: missing") != std::string::npos);
  CHECK(e.find("targets[1].name: duplicate target name") != std::string::npos);
}

TEST_CASE("Config: detector parameters are validated by the detector", "[config]") {
  std::string e =
      ErrorOf("targets:\n  - {name: a, dsn: \"dbname=a\"}\ndetectors:\n  rows:\n    min_rowz: 5\n");
  CHECK(e.find("detectors.rows") != std::string::npos);
  CHECK(e.find("min_rowz") != std::string::npos);
  absl::StatusOr<AgentConfig> ok = ParseConfig(
      "targets:\n  - {name: a, dsn: \"dbname=a\"}\ndetectors:\n  rows:\n    min_rows: 500\n",
      "x.yaml");
  REQUIRE(ok.ok());
  CHECK(ok->detectors.rows.params.at("min_rows") == "500");
}

TEST_CASE("Config: DSN from an environment variable, never echoed in errors", "[config]") {
  ::setenv("PGWARDEN_TEST_DSN", "host=127.0.0.1 dbname=shop password=hunter2", 1);
  absl::StatusOr<AgentConfig> c =
      ParseConfig("targets:\n  - {name: a, dsn_env: PGWARDEN_TEST_DSN}\n", "x.yaml");
  REQUIRE(c.ok());
  CHECK(c->targets[0].dsn.find("hunter2") != std::string::npos);
  std::string e = ErrorOf(
      "targets:\n  - {name: a, dsn_env: PGWARDEN_TEST_DSN}\nalerting: {sinks: [{name: x}]}\n");
  CHECK(e.find("hunter2") == std::string::npos);
}

TEST_CASE("Config: maintenance windows cover their time and tables only", "[config]") {
  absl::StatusOr<AgentConfig> c = ParseConfig(
      "targets:\n  - {name: shop, dsn: \"dbname=a\"}\n"
      "maintenance:\n  windows:\n    - name: nightly\n      start: \"23:30\"\n"
      "      duration: 1h\n      tables: [\"public.audit*\"]\n",
      "x.yaml");
  INFO(c.status().message());
  REQUIRE(c.ok());
  const absl::TimeZone utc = absl::UTCTimeZone();
  const absl::Time in = absl::FromCivil(absl::CivilSecond(2026, 11, 26, 0, 10, 0), utc);
  const absl::Time out = absl::FromCivil(absl::CivilSecond(2026, 11, 26, 0, 31, 0), utc);
  CHECK(InMaintenance(c->maintenance, "shop", "public", "audit_log", in) == "nightly");
  CHECK(InMaintenance(c->maintenance, "shop", "public", "audit_log", out).empty());
  CHECK(InMaintenance(c->maintenance, "shop", "public", "customers", in).empty());
  std::string e = ErrorOf(
      "targets:\n  - {name: shop, dsn: \"dbname=a\"}\n"
      "maintenance:\n  windows:\n    - {start: \"25:00\", days: [funday]}\n");
  CHECK(e.find("maintenance.windows[0].start: expected HH:MM") != std::string::npos);
  CHECK(e.find("maintenance.windows[0].days: unknown day") != std::string::npos);
}

}  // namespace
}  // namespace pgwarden
