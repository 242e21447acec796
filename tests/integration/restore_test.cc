// `pgwarden restore`: the deleted rows kept by the row journal (change
// stream, REPLICA IDENTITY FULL) go back into their tables.

#include <fstream>
#include <iostream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "devtools/process.h"
#include "tests/integration/commit_time.h"
#include "tests/integration/run_pgwarden.h"
#include "tests/integration/scenario.h"

namespace pgwarden::testing {
namespace {

constexpr char kEnforceActions[] = "  actions: [nologin, revoke_writes, terminate]\n";

// Fingerprint is an md5 over every row of `table` in key order.
std::string Fingerprint(const LocalPostgres& pg, const std::string& table) {
  auto r = pg.Psql(
      absl::StrCat("SELECT md5(string_agg(t::text, ',' ORDER BY t::text)) FROM ", table, " t"),
      kShopDatabase);
  REQUIRE(r.ok());
  return *r;
}

// RestoreYaml: enforce mode, the change stream, and restore.dsn as the
// role `restorer`.
std::string RestoreYaml(const Scenario& sc) {
  return WithTargetLines(
      sc.Yaml("enforce", absl::StrCat(kEnforceActions, "restore:\n  dsn: \"",
                                      sc.pg->Dsn(kShopDatabase, "restorer", "restore-pw"), "\"\n")),
      TargetLines(Path::kStream));
}

void CreateRestorer(const Scenario& sc, const std::string& tables) {
  REQUIRE(sc.pg
              ->Psql(absl::StrCat("CREATE ROLE restorer LOGIN PASSWORD 'restore-pw'; "
                                  "GRANT SELECT, INSERT ON ",
                                  tables, " TO restorer"),
                     kShopDatabase)
              .ok());
}

// WaitJournalled waits until the agent's journal holds `rows` rows.
void WaitJournalled(const Scenario& sc, int64_t rows) {
  const bool done = WaitUntil(
      [&] {
        return MetricValue(sc.agent->Metrics(), "pgwarden_journal_rows_total", {"target=\"shop\""})
                   .value_or(0) >= static_cast<double>(rows);
      },
      absl::Seconds(30));
  INFO(sc.agent->Log());
  REQUIRE(done);
}

int64_t IncidentOf(const ReceivedEvent& page) {
  return page.body["payload"]["custom_details"]["incident_id"].get<int64_t>();
}

TEST_CASE("Restore: after a contained cleanup the journal brings every row back, once",
          "[integration][restore]") {
  Scenario sc(200000, LogicalOptions());
  GrantReplication(sc);
  REQUIRE(sc.pg->Psql("ALTER TABLE customers REPLICA IDENTITY FULL", kShopDatabase).ok());
  CreateRestorer(sc, "customers");
  const int64_t before = sc.Count("customers");
  const std::string print_before = Fingerprint(*sc.pg, "customers");
  sc.StartAgent(RestoreYaml(sc));
  WaitStreaming(sc);
  auto job =
      StartCleanupJob(*sc.pg, CleanupScriptSql("customers", 200, 1000, absl::Milliseconds(100)));
  REQUIRE(job.ok());
  auto page = sc.pager.WaitFor(IsTriggerFor("customers"), absl::Seconds(20));
  absl::StatusOr<int> job_exit = WaitProcess(*job, absl::Seconds(30));
  if (!job_exit.ok()) StopProcess(*job, absl::Seconds(2));
  REQUIRE(page.has_value());
  const int64_t after = sc.Count("customers");
  REQUIRE(after < before);
  WaitJournalled(sc, before - after);
  const std::string config = sc.pg->dir() + "/pgwarden.yaml";
  const std::string id = std::to_string(IncidentOf(*page));
  // A dry run changes nothing and says what it would do.
  CommandResult dry = Run({"restore", id, "--config", config, "--dry-run"});
  INFO(dry.output);
  CHECK(dry.code == 0);
  CHECK(absl::StrContains(dry.output, absl::StrCat("would insert ", before - after)));
  CHECK(sc.Count("customers") == after);
  CommandResult done = Run({"restore", id, "--config", config});
  const absl::Time restored_at = absl::Now();
  INFO(done.output);
  CHECK(done.code == 0);
  CHECK(absl::StrContains(done.output, absl::StrCat("inserted ", before - after, ", 0 already")));
  CHECK(sc.Count("customers") == before);
  CHECK(Fingerprint(*sc.pg, "customers") == print_before);
  // A second run inserts nothing.
  CommandResult again = Run({"restore", id, "--config", config});
  INFO(again.output);
  CHECK(again.code == 0);
  CHECK(absl::StrContains(again.output, "inserted 0, "));
  CHECK(sc.Count("customers") == before);
  // Audited: who, what, how many.
  std::ifstream audit(sc.pg->dir() + "/state/audit.log");
  int restores = 0;
  for (std::string line; std::getline(audit, line);) {
    const nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    if (j.value("action", "") != "restore_rows") continue;
    ++restores;
    CHECK(j.value("role", "") == "restorer");
    CHECK(j.value("table", "") == "customers");
  }
  CHECK(restores == 3);
  const double bytes =
      MetricValue(sc.agent->Metrics(), "pgwarden_journal_bytes", {"target=\"shop\""}).value_or(0);
  std::cout << "[figure] restore: " << (before - after) << " rows deleted before containment, "
            << "restored " << absl::ToDoubleSeconds(restored_at - page->at)
            << " s after the page; journal " << bytes * 1000 / static_cast<double>(before - after)
            << " bytes per 1,000 deleted rows\n";
}

TEST_CASE(
    "Restore: a hostile table name is quoted and a table without REPLICA IDENTITY FULL is "
    "refused",
    "[integration][restore]") {
  Scenario sc(1000, LogicalOptions());
  GrantReplication(sc);
  REQUIRE(sc.pg
              ->Psql("CREATE TABLE \"we;ird \"\"name\" (id int PRIMARY KEY, v text); "
                     "ALTER TABLE \"we;ird \"\"name\" REPLICA IDENTITY FULL; "
                     "INSERT INTO \"we;ird \"\"name\" SELECT g, 'v' || g FROM "
                     "generate_series(1, 20000) g; "
                     "CREATE TABLE keyed (id int PRIMARY KEY, v text); "
                     "INSERT INTO keyed SELECT g, 'k' FROM generate_series(1, 20000) g; "
                     "ANALYZE; GRANT SELECT ON ALL TABLES IN SCHEMA public TO pgwarden; "
                     "GRANT ALL ON ALL TABLES IN SCHEMA public TO cleanup_job",
                     kShopDatabase)
              .ok());
  CreateRestorer(sc, "ALL TABLES IN SCHEMA public");
  const std::string print_before = Fingerprint(*sc.pg, "\"we;ird \"\"name\"");
  sc.StartAgent(WithTargetLines(
      sc.Yaml("off", absl::StrCat("restore:\n  dsn: \"",
                                  sc.pg->Dsn(kShopDatabase, "restorer", "restore-pw"), "\"\n")),
      TargetLines(Path::kStream)));
  WaitStreaming(sc);
  auto job = StartCleanupJob(*sc.pg, "DELETE FROM \"we;ird \"\"name\";\nDELETE FROM keyed;\n");
  REQUIRE(job.ok());
  REQUIRE(WaitProcess(*job, absl::Seconds(20)).ok());
  auto page = sc.pager.WaitFor(IsTriggerFor("we;ird"), absl::Seconds(20));
  INFO(sc.agent->Log());
  REQUIRE(page.has_value());
  WaitJournalled(sc, 40000);
  absl::SleepFor(absl::Seconds(2));  // both tables in the incident
  CommandResult done = Run(
      {"restore", std::to_string(IncidentOf(*page)), "--config", sc.pg->dir() + "/pgwarden.yaml"});
  INFO(done.output);
  CHECK(done.code == 1);  // one table refused
  CHECK(absl::StrContains(done.output, "public.keyed: 20000 rows journalled, REFUSED"));
  CHECK(absl::StrContains(done.output, "REPLICA IDENTITY is not FULL"));
  CHECK(Fingerprint(*sc.pg, "\"we;ird \"\"name\"") == print_before);
}

}  // namespace
}  // namespace pgwarden::testing
