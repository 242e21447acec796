#include "agent/discovery.h"

#include "absl/strings/match.h"
#include "catch2/catch.hpp"
#include "tests/agent/parse_config.h"

namespace pgwarden {
namespace {

constexpr char kServer[] =
    "targets:\n  - name: main\n    dsn: \"host=127.0.0.1 user=pgwarden\"\n"
    "    databases:\n      include: [\"*\"]\n      exclude: [\"template*\", \"rdsadmin\"]\n"
    "    discovery_interval: 10s\n";

}  // namespace

TEST_CASE("Config: a server target reads databases and discovery_interval", "[discovery]") {
  const AgentConfig c = testing::ParseOk(kServer);
  REQUIRE(c.targets.size() == 1);
  REQUIRE(c.targets[0].databases.has_value());
  CHECK(c.targets[0].databases->include == std::vector<std::string>{"*"});
  CHECK(c.targets[0].databases->exclude == std::vector<std::string>{"template*", "rdsadmin"});
  CHECK(c.targets[0].databases->discovery_interval == absl::Seconds(10));
  // The old form stays a plain target.
  const AgentConfig plain =
      testing::ParseOk("targets:\n  - name: shop\n    dsn: \"dbname=shop\"\n");
  CHECK_FALSE(plain.targets[0].databases.has_value());
  CHECK(plain.targets[0].database.empty());
  // An exclude alone includes every other database.
  const AgentConfig ex = testing::ParseOk(
      "targets:\n  - name: main\n    dsn: \"user=x\"\n    databases:\n      exclude: [\"a\"]\n");
  CHECK(ex.targets[0].databases->include == std::vector<std::string>{"*"});
}

TEST_CASE("Config: discovery mistakes are named with their path", "[discovery]") {
  CHECK(absl::StrContains(
      testing::ParseError("targets:\n  - name: m\n    dsn: \"x=y\"\n    discovery_interval: 5s\n"),
      "targets[0].discovery_interval: applies only to a target with `databases`"));
  CHECK(absl::StrContains(
      testing::ParseError("targets:\n  - name: m\n    dsn: \"x=y\"\n    databases:\n"
                          "      include: [\"*\"]\n    discovery_interval: 10ms\n"),
      "discovery_interval: must be at least 1s"));
  CHECK(absl::StrContains(
      testing::ParseError("targets:\n  - name: m\n    dsn: \"x=y\"\n    databases:\n"
                          "      incl: [\"*\"]\n"),
      "targets[0].databases.incl: unknown key"));
  CHECK(absl::StrContains(
      testing::ParseError(
          "metrics:\n  per_table: top:0\ntargets:\n  - name: m\n    dsn: \"x=y\"\n"),
      "metrics.per_table: \"top:0\": expected all, top:N (N > 0) or anomalous"));
}

TEST_CASE("Config: metrics.per_table modes", "[discovery]") {
  const std::string t = "targets:\n  - name: m\n    dsn: \"x=y\"\n";
  CHECK(testing::ParseOk(t).per_table.mode == PerTableMetrics::Mode::kAuto);
  CHECK(testing::ParseOk("metrics:\n  per_table: all\n" + t).per_table.mode ==
        PerTableMetrics::Mode::kAll);
  const AgentConfig top = testing::ParseOk("metrics:\n  per_table: top:25\n" + t);
  CHECK(top.per_table.mode == PerTableMetrics::Mode::kTop);
  CHECK(top.per_table.top == 25);
  CHECK(testing::ParseOk("metrics:\n  per_table: anomalous\n" + t).per_table.mode ==
        PerTableMetrics::Mode::kAnomalous);
}

TEST_CASE("SelectDatabases: include globs then exclude globs, in the order listed", "[discovery]") {
  DatabaseSelection sel;
  sel.include = {"*"};
  sel.exclude = {"template*", "rdsadmin"};
  CHECK(SelectDatabases({"app", "template1", "rdsadmin", "postgres"}, sel) ==
        std::vector<std::string>{"app", "postgres"});
  sel.include = {"shop_*"};
  sel.exclude = {"shop_test"};
  CHECK(SelectDatabases({"shop_eu", "shop_test", "billing", "shop_us"}, sel) ==
        std::vector<std::string>{"shop_eu", "shop_us"});
}

TEST_CASE("ForDatabase: id, DSN and a slot of its own per database", "[discovery]") {
  const AgentConfig c = testing::ParseOk(kServer);
  const TargetConfig a = ForDatabase(c.targets[0], "app1");
  CHECK(a.name == "main/app1");
  CHECK(a.database == "app1");
  CHECK_FALSE(a.databases.has_value());
  CHECK(a.dsn == "host=127.0.0.1 user=pgwarden dbname='app1'");
  CHECK(a.change_stream.slot == "pgwarden_main_app1");
  // Names the folding would merge get different slots, stable across runs.
  const TargetConfig upper = ForDatabase(c.targets[0], "App1");
  const TargetConfig lower = ForDatabase(c.targets[0], "app_1");
  CHECK(upper.change_stream.slot != lower.change_stream.slot);
  CHECK(upper.change_stream.slot == ForDatabase(c.targets[0], "App1").change_stream.slot);
  CHECK(upper.change_stream.slot.size() <= 63);
  CHECK(ForDatabase(c.targets[0], std::string(80, 'x')).change_stream.slot.size() <= 63);
  // A hostile database name is quoted in the DSN, never pasted.
  CHECK(ForDatabase(c.targets[0], "a' host='evil").dsn ==
        "host=127.0.0.1 user=pgwarden dbname='a\\' host=\\'evil'");
  TargetConfig uri = c.targets[0];
  uri.dsn = "postgresql://pgwarden@127.0.0.1:5432/postgres?sslmode=disable";
  CHECK(ForDatabase(uri, "my db").dsn ==
        "postgresql://pgwarden@127.0.0.1:5432/postgres?sslmode=disable&dbname=my%20db");
}

TEST_CASE("ResolveTarget: a plain name or name/database of a server target", "[discovery]") {
  AgentConfig c =
      testing::ParseOk(std::string(kServer) + "  - name: shop\n    dsn: \"dbname=shop\"\n");
  absl::StatusOr<TargetConfig> shop = ResolveTarget(c, "shop");
  REQUIRE(shop.ok());
  CHECK(shop->dsn == "dbname=shop");
  absl::StatusOr<TargetConfig> app = ResolveTarget(c, "main/app1");
  REQUIRE(app.ok());
  CHECK(app->database == "app1");
  CHECK(absl::StrContains(ResolveTarget(c, "main").status().message(), "main/DATABASE"));
  CHECK(absl::IsNotFound(ResolveTarget(c, "other").status()));
  CHECK_FALSE(ResolveTarget(c, "shop/x").ok());
}

TEST_CASE("InMaintenance: a window naming a server target covers its databases", "[discovery]") {
  MaintenanceConfig m;
  MaintenanceWindow w;
  w.name = "nightly";
  w.duration = absl::Hours(24);
  w.targets = {"main"};
  m.windows = {w};
  const absl::Time t = absl::FromUnixSeconds(1700000000);
  CHECK(InMaintenance(m, "main/app1", "public", "t", t) == "nightly");
  CHECK(InMaintenance(m, "main", "public", "t", t) == "nightly");
  CHECK(InMaintenance(m, "other/app1", "public", "t", t).empty());
  m.windows[0].targets = {"main/app2"};
  CHECK(InMaintenance(m, "main/app2", "public", "t", t) == "nightly");
  CHECK(InMaintenance(m, "main/app1", "public", "t", t).empty());
}

}  // namespace pgwarden
