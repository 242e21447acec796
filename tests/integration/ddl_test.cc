// Destructive schema changes (destructive_ddl), committed, on a real
// PostgreSQL 15 with log_statement = 'ddl' and the server log configured:
// a dropped column and a rewriting type change are paged naming the role
// that the server log shows; ADD COLUMN, CREATE INDEX and VACUUM FULL are
// not, nor a DROP COLUMN inside a maintenance window; DROP SCHEMA ...
// CASCADE of three watched tables is one page; DROP DATABASE ... WITH
// (FORCE) of the watched database is one page naming who dropped it.

#include <iostream>
#include <pqxx/pqxx>

#include "absl/strings/match.h"
#include "absl/time/clock.h"
#include "tests/integration/scenario.h"

namespace pgwarden::testing {
namespace {

constexpr char kMigrator[] = "mig";

LocalPostgresOptions DdlLogged() {
  LocalPostgresOptions o;
  o.extra_conf = {"log_statement = 'ddl'"};
  o.trusted_roles = {"postgres", "pgwarden", kMigrator};
  return o;
}

// Setup makes `mig` own the shop's tables and a schema `archive` of three
// tables, and a table public.events for the maintenance window.
void Setup(Scenario& sc) {
  auto out = sc.pg->Psql(
      absl::StrCat("CREATE ROLE ", kMigrator, " LOGIN;",
                   "CREATE TABLE events (id bigserial PRIMARY KEY, kind text, note text);",
                   "INSERT INTO events (kind, note) SELECT 'e', 'n' FROM generate_series(1, 5000);",
                   "CREATE SCHEMA archive;",
                   "CREATE TABLE archive.a1 AS SELECT g AS id FROM generate_series(1, 3000) g;",
                   "CREATE TABLE archive.a2 AS SELECT g AS id FROM generate_series(1, 3000) g;",
                   "CREATE TABLE archive.a3 AS SELECT g AS id FROM generate_series(1, 3000) g;",
                   "ALTER SCHEMA archive OWNER TO ", kMigrator, ";",
                   "ALTER TABLE customers OWNER TO ", kMigrator, ";",
                   "ALTER TABLE orders OWNER TO ", kMigrator, ";", "ALTER TABLE events OWNER TO ",
                   kMigrator, ";", "GRANT USAGE ON SCHEMA archive TO pgwarden;",
                   "GRANT SELECT ON ALL TABLES IN SCHEMA archive TO pgwarden;",
                   "GRANT CREATE ON SCHEMA public TO ", kMigrator, ";",
                   "GRANT SELECT ON customers, orders, events TO pgwarden;"),
      "shop");
  INFO(out.status().message());
  REQUIRE(out.ok());
}

std::string AgentYaml(const Scenario& sc, const std::string& extra = "") {
  std::string yaml = sc.Yaml("off", extra);
  const std::string tables = "    tables:\n      include: [\"public.*\"]\n";
  yaml.replace(yaml.find(tables), tables.size(),
               absl::StrCat("    server_log: ", sc.pg->log_path(), "\n",
                            "    tables:\n      include: [\"public.*\", \"archive.*\"]\n"));
  return yaml;
}

// RunAs runs `sql` as the migrator over TCP.
void RunAs(Scenario& sc, const std::string& sql, const std::string& db = "shop",
           const std::string& user = kMigrator) {
  pqxx::connection c(sc.pg->Dsn(db, user));
  pqxx::nontransaction tx(c);
  tx.exec(sql);
}

// DdlTrigger matches a trigger naming `what` whose details hold a
// destructive_ddl.
std::function<bool(const nlohmann::json&)> DdlTrigger(const std::string& what) {
  return [what](const nlohmann::json& ev) {
    if (ev.value("event_action", "") != "trigger") return false;
    const nlohmann::json& p = ev["payload"];
    return absl::StrContains(p.value("summary", ""), what) && p.contains("custom_details") &&
           p["custom_details"].contains("destructive_ddl");
  };
}

int Triggers(const Scenario& sc, const std::string& what) {
  int n = 0;
  for (const ReceivedEvent& ev : sc.pager.events()) {
    if (ev.body.value("event_action", "") == "trigger" &&
        absl::StrContains(ev.body["payload"].value("summary", ""), what)) {
      ++n;
    }
  }
  return n;
}

// Paged runs `sql` as the migrator and waits for the destructive_ddl page
// naming `what`; the page must name the migrator.
void Paged(Scenario& sc, const std::string& sql, const std::string& what,
           const std::string& label) {
  const absl::Time t0 = absl::Now();
  RunAs(sc, sql);
  auto page = sc.pager.WaitFor(DdlTrigger(what), absl::Seconds(15));
  INFO(sc.agent->Log());
  REQUIRE(page.has_value());
  std::cout << "[figure] " << label << " paged after " << absl::ToDoubleSeconds(page->at - t0)
            << " s\n";
  // The page comes from the in-flight path (the ALTER seen holding its lock,
  // the role read from pg_stat_activity) or from the completed change, the
  // role then read from the server log.
  const std::string summary = page->body["payload"].value("summary", "");
  INFO(summary);
  if (absl::StrContains(summary, " in flight: ")) {
    CHECK(absl::StrContains(summary, "role mig"));
  } else {
    CHECK(absl::StrContains(summary, "by role mig"));
    CHECK(absl::StrContains(page->body.dump(), "server_log"));
  }
}

TEST_CASE("DDL: dropped and retyped columns page naming the role and harmless DDL does not",
          "[integration][ddl]") {
  Scenario sc(20000, DdlLogged());
  Setup(sc);
  // A window for public.events, open now, for the windowed migration.
  const absl::Time now = absl::Now();
  const std::string start = absl::FormatTime("%H:%M", now - absl::Minutes(1), absl::UTCTimeZone());
  sc.StartAgent(AgentYaml(
      sc, absl::StrCat("maintenance:\n  windows:\n    - name: migrate\n      days: [mon, tue, wed, "
                       "thu, fri, sat, sun]\n      start: \"",
                       start, "\"\n      duration: 30m\n      tables: [\"public.events\"]\n")));

  // Every labelled series whose labels are known exists from start at 0.
  {
    const std::string m = sc.agent->Metrics();
    CHECK(MetricValue(m, "pgwarden_incidents_total",
                      {"target=\"shop\"", "kind=\"destructive_ddl\""}) == 0.0);
    CHECK(MetricValue(m, "pgwarden_incident_active", {"target=\"shop\"", "kind=\"row_loss\""}) ==
          0.0);
    CHECK(MetricValue(m, "pgwarden_remediation_actions_total",
                      {"target=\"shop\"", "action=\"nologin\"", "result=\"done\""}) == 0.0);
    CHECK(MetricValue(m, "pgwarden_remediation_actions_total",
                      {"target=\"shop\"", "action=\"cancel\"", "result=\"refused\""}) == 0.0);
  }

  // Schema changes that keep every row and value: nothing is paged.
  RunAs(sc, "ALTER TABLE customers ADD COLUMN note text");
  RunAs(sc, "CREATE INDEX ON customers (email)");
  RunAs(sc, "VACUUM FULL orders");
  RunAs(sc, "ALTER TABLE events DROP COLUMN note");  // inside the window
  absl::SleepFor(absl::Seconds(8));  // past a fingerprint read at the regular cadence
  INFO(sc.agent->Log());
  CHECK(sc.pager.events().empty());
  CHECK(MetricValue(sc.agent->Metrics(), "pgwarden_signals_suppressed_total",
                    {"reason=\"maintenance\""})
            .value_or(0) >= 1);

  Paged(sc, "ALTER TABLE customers DROP COLUMN email", "customers", "DROP COLUMN");
  CHECK(MetricValue(sc.agent->Metrics(), "pgwarden_incidents_total",
                    {"target=\"shop\"", "kind=\"destructive_ddl\""}) == 1.0);
  Paged(sc, "ALTER TABLE orders ALTER COLUMN amount TYPE int USING 0", "orders",
        "ALTER COLUMN TYPE ... USING 0");
  CHECK(sc.pager.violations().empty());
}

TEST_CASE("DDL: DROP SCHEMA CASCADE is one page and DROP DATABASE WITH FORCE is paged",
          "[integration][ddl]") {
  Scenario sc(20000, DdlLogged());
  Setup(sc);
  sc.StartAgent(AgentYaml(sc));

  Paged(sc, "DROP SCHEMA archive CASCADE", "archive", "DROP SCHEMA CASCADE (3 tables)");
  absl::SleepFor(absl::Seconds(4));  // a few more samples: no page per table
  INFO(sc.agent->Log());
  CHECK(Triggers(sc, "archive") == 1);
  for (const char* t : {"a1", "a2", "a3"}) CHECK(Triggers(sc, absl::StrCat("archive.", t)) == 0);

  const absl::Time t0 = absl::Now();
  RunAs(sc, "DROP DATABASE shop WITH (FORCE)", "postgres", "postgres");
  auto page = sc.pager.WaitFor(DdlTrigger("database shop"), absl::Seconds(30));
  INFO(sc.agent->Log());
  REQUIRE(page.has_value());
  std::cout << "[figure] DROP DATABASE WITH (FORCE) paged after "
            << absl::ToDoubleSeconds(page->at - t0) << " s\n";
  CHECK(absl::StrContains(page->body["payload"].value("summary", ""), "by role postgres"));
  absl::SleepFor(absl::Seconds(3));
  CHECK(Triggers(sc, "database shop") == 1);
  // The shop's tables went with it: not a page each.
  CHECK(Triggers(sc, "public.customers") == 0);
  CHECK(sc.pager.violations().empty());
}

}  // namespace
}  // namespace pgwarden::testing
