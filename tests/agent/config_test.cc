#include "agent/config.h"

#include "absl/strings/match.h"
#include "catch2/catch.hpp"
#include "tests/agent/parse_config.h"
#include "tests/support/product_example.h"

namespace pgwarden {
namespace {

using testing::kProductExample;

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
  std::string e = testing::ParseError(
      "environment: production\ntargets:\n  - name: shop\n    dsn: \"dbname=x\"\n"
      "    tabels:\n      include: [\"*\"]\n");
  CHECK(absl::StrContains(e, "pgwarden.yaml:5:"));
  CHECK(absl::StrContains(e, "targets[0].tabels: unknown key"));
}

TEST_CASE("Config: unknown top-level key", "[config]") {
  std::string e =
      testing::ParseError("intervall: 1s\ntargets:\n  - {name: a, dsn: \"dbname=a\"}\n");
  CHECK(absl::StrContains(e, "pgwarden.yaml:1:"));
  CHECK(absl::StrContains(e, "intervall: unknown key"));
}

TEST_CASE("Config: bad type is named", "[config]") {
  std::string e = testing::ParseError(
      "targets:\n  - name: shop\n    dsn: \"dbname=x\"\n    tables:\n      include: public.*\n");
  CHECK(absl::StrContains(e, "targets[0].tables.include: expected a list of strings"));
  CHECK(absl::StrContains(e, "pgwarden.yaml:5:"));
}

TEST_CASE("Config: bad and too small durations are named", "[config]") {
  std::string e =
      testing::ParseError("interval: 1 second\ntargets:\n  - {name: a, dsn: \"dbname=a\"}\n");
  CHECK(absl::StrContains(e, "pgwarden.yaml:1:"));
  CHECK(absl::StrContains(e, "interval: expected a duration"));
  std::string e2 =
      testing::ParseError("interval: 50ms\ntargets:\n  - {name: a, dsn: \"dbname=a\"}\n");
  CHECK(absl::StrContains(e2, "interval: must be at least 100ms"));
}

TEST_CASE("Config: no targets is an error", "[config]") {
  CHECK(absl::StrContains(testing::ParseError("environment: production\n"), "targets: missing"));
  CHECK(absl::StrContains(testing::ParseError("targets: []\n"), "targets: must name at least one"));
}

TEST_CASE("Config: every error is reported at once", "[config]") {
  std::string e = testing::ParseError(
      "interval: soon\nbogus: 1\ntargets:\n  - name: a\n  - name: a\n    dsn: x\n");
  CHECK(absl::StrContains(e, "interval:"));
  CHECK(absl::StrContains(e, "bogus: unknown key"));
  CHECK(absl::StrContains(e, "targets[0].dsn: missing"));
  CHECK(absl::StrContains(e, "targets[1].name: duplicate target name"));
}

TEST_CASE("Config: detector parameters are validated by the detector", "[config]") {
  std::string e = testing::ParseError(
      "targets:\n  - {name: a, dsn: \"dbname=a\"}\ndetectors:\n  rows:\n    min_rowz: 5\n");
  CHECK(absl::StrContains(e, "detectors.rows"));
  CHECK(absl::StrContains(e, "min_rowz"));
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
  CHECK(absl::StrContains(c->targets[0].dsn, "hunter2"));
  std::string e = testing::ParseError(
      "targets:\n  - {name: a, dsn_env: PGWARDEN_TEST_DSN}\nalerting: {sinks: [{name: x}]}\n");
  CHECK(!absl::StrContains(e, "hunter2"));
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
  std::string e = testing::ParseError(
      "targets:\n  - {name: shop, dsn: \"dbname=a\"}\n"
      "maintenance:\n  windows:\n    - {start: \"25:00\", days: [funday]}\n");
  CHECK(absl::StrContains(e, "maintenance.windows[0].start: expected HH:MM"));
  CHECK(absl::StrContains(e, "maintenance.windows[0].days: unknown day"));
}

TEST_CASE("Config: change_stream is opt-in with a default slot per target", "[config]") {
  absl::StatusOr<AgentConfig> c = ParseConfig(R"(
targets:
  - name: Shop-EU.1
    dsn: "dbname=shop"
  - name: billing
    dsn: "dbname=billing"
    fast_path: false
    change_stream:
      enabled: true
      slot: billing_slot
      allow_unbounded_retention: true
)",
                                              "c.yaml");
  INFO(c.status().message());
  REQUIRE(c.ok());
  CHECK(c->fast_interval == absl::Milliseconds(250));
  CHECK_FALSE(c->targets[0].change_stream.enabled);
  CHECK(c->targets[0].change_stream.slot == "pgwarden_shop_eu_1");
  CHECK(c->targets[0].fast_path);
  CHECK(c->targets[1].change_stream.enabled);
  CHECK(c->targets[1].change_stream.slot == "billing_slot");
  CHECK(c->targets[1].change_stream.allow_unbounded_retention);
  CHECK_FALSE(c->targets[1].fast_path);
}

TEST_CASE(
    "Config: a bad slot name, an unknown change_stream key and a slow fast_interval are named",
    "[config]") {
  std::string e = testing::ParseError(R"(
interval: 1s
fast_interval: 2s
targets:
  - name: shop
    dsn: "dbname=shop"
    change_stream:
      enabled: true
      slot: "Bad-Slot"
      retention: 1
)");
  CHECK(absl::StrContains(e, "targets[0].change_stream.slot"));
  CHECK(absl::StrContains(e, "targets[0].change_stream.retention"));
  CHECK(absl::StrContains(e, "fast_interval: must not be longer than interval"));
}

TEST_CASE("Config: detectors.update_rate takes the burst gate beside the detector's parameters",
          "[config]") {
  const std::string head =
      "targets:\n  - {name: a, dsn: \"dbname=a\"}\ndetectors:\n  update_rate:\n";
  absl::StatusOr<AgentConfig> d =
      ParseConfig("targets:\n  - {name: a, dsn: \"dbname=a\"}\n", "x.yaml");
  REQUIRE(d.ok());
  CHECK(d->detectors.update_rate.detector == "rate_spike");
  CHECK(d->detectors.update_rate.params.at("hard_rate") == "0");
  CHECK(d->detectors.update_gate.min_share == Approx(0.02));
  // Gate keys alone keep the detector's defaults.
  absl::StatusOr<AgentConfig> gate =
      ParseConfig(head + "    min_share: 0.05\n    min_rows: 5000\n    min_ratio: 4\n", "x.yaml");
  REQUIRE(gate.ok());
  CHECK(gate->detectors.update_gate.min_share == Approx(0.05));
  CHECK(gate->detectors.update_gate.min_rows == 5000);
  CHECK(gate->detectors.update_gate.min_ratio == Approx(4));
  CHECK(gate->detectors.update_rate.params.at("min_rate") == "500");
  absl::StatusOr<AgentConfig> both = ParseConfig(head + "    min_share: 0.1\n    z: 8\n", "x.yaml");
  REQUIRE(both.ok());
  CHECK(both->detectors.update_rate.params.at("z") == "8");
  CHECK(both->detectors.update_rate.params.at("hard_rate") == "0");
  CHECK(both->detectors.update_rate.params.count("min_share") == 0);
  CHECK(both->detectors.update_gate.min_share == Approx(0.1));
  std::string e = testing::ParseError(head + "    min_share: 2\n");
  CHECK(absl::StrContains(e, "detectors.update_rate.min_share"));
  e = testing::ParseError(head + "    min_sharez: 0.1\n");
  CHECK(absl::StrContains(e, "min_sharez"));
}

TEST_CASE("Config: journal sizes, backup age and restore dsn", "[config]") {
  absl::StatusOr<AgentConfig> c = ParseConfig(
      "targets:\n  - {name: a, dsn: \"dbname=a\"}\njournal:\n  max_bytes: 1GiB\n"
      "  max_age: 2h\nbackup:\n  max_archive_age: 30m\nrestore:\n  dsn: \"dbname=a user=r\"\n",
      "pgwarden.yaml");
  REQUIRE(c.ok());
  CHECK(c->journal_max_bytes == (1ULL << 30));
  CHECK(c->journal_max_age == absl::Hours(2));
  CHECK(c->max_archive_age == absl::Minutes(30));
  CHECK(c->restore_dsn == "dbname=a user=r");
  const std::string e = testing::ParseError(
      "targets:\n  - {name: a, dsn: \"dbname=a\"}\njournal:\n  max_bytes: 12 parsecs\n"
      "backup:\n  max_archive_age: 5s\n");
  CHECK(absl::StrContains(e, "journal.max_bytes: expected a size"));
  CHECK(absl::StrContains(e, "backup.max_archive_age: must be at least 1m"));
}

TEST_CASE("Config: web limits - defaults - values and errors named by key", "[config]") {
  absl::StatusOr<AgentConfig> d = ParseConfig(kProductExample, "pgwarden.yaml");
  REQUIRE(d.ok());
  CHECK(d->web.max_connections == 4096);
  CHECK(d->web.max_connections_per_client == 32);
  CHECK(d->web.read_header_timeout == absl::Seconds(10));
  absl::StatusOr<AgentConfig> c = ParseConfig(
      "targets:\n  - {name: a, dsn: \"dbname=a\"}\nweb:\n  max_connections: 100\n"
      "  max_connections_per_client: 4\n  read_header_timeout: 2s\n  idle_timeout: 30s\n",
      "pgwarden.yaml");
  REQUIRE(c.ok());
  CHECK(c->web.max_connections == 100);
  CHECK(c->web.max_connections_per_client == 4);
  CHECK(c->web.read_header_timeout == absl::Seconds(2));
  CHECK(c->web.idle_timeout == absl::Seconds(30));
  const std::string e = testing::ParseError(
      "targets:\n  - {name: a, dsn: \"dbname=a\"}\nweb:\n  max_connections_per_client: 0\n"
      "  read_header_timeout: 1ms\n  backlog: 5\n");
  CHECK(absl::StrContains(e, "web.max_connections_per_client: must be 1 to 1000000"));
  CHECK(absl::StrContains(e, "web.read_header_timeout: must be at least 100ms"));
  CHECK(absl::StrContains(e, "backlog"));
}

}  // namespace
}  // namespace pgwarden
