// Isolation end to end: a watched schema the agent's role may not read
// never switches off the session guard for the other tables, is reported
// once, named by `pgwarden check` with its GRANT, and the agent's own failed
// statements never feed the rollback ratio; an ALTER TABLE ... DROP COLUMN
// waiting for its lock is paged as destructive_ddl and cancelled. Real
// PostgreSQL 15, the real pgwarden binary, a real PagerDuty-shaped receiver.

#include <httplib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <pqxx/pqxx>

#include "absl/strings/match.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "devtools/process.h"
#include "pg/connect.h"
#include "tests/integration/run_pgwarden.h"
#include "tests/integration/scenario.h"

namespace pgwarden::testing {
namespace {

constexpr char kEnforce[] = "  actions: [terminate]\n";

// ArchiveYaml watches public.* and archive.*.
std::string ArchiveYaml(const Scenario& sc, const std::string& mode) {
  return absl::StrReplaceAll(sc.Yaml(mode, kEnforce), {{"include: [\"public.*\"]",
                                                        "include: [\"public.*\", \"archive.*\"]"}});
}

// CreateArchive creates schema archive (owned by the superuser) with one
// table, unreadable for role pgwarden.
void CreateArchive(const Scenario& sc) {
  auto r = sc.pg->Psql(
      "CREATE SCHEMA archive; CREATE TABLE archive.orders_2019 (id int PRIMARY KEY, amount int);"
      "INSERT INTO archive.orders_2019 SELECT g, g FROM generate_series(1, 1000) g;"
      "REVOKE ALL ON SCHEMA archive FROM PUBLIC; ANALYZE archive.orders_2019;",
      "shop");
  INFO((r.ok() ? "" : std::string(r.status().message())));
  REQUIRE(r.ok());
}

int64_t ServerRollbacks(const Scenario& sc) {
  auto out = sc.pg->Psql(
      "SELECT pg_stat_force_next_flush(); "
      "SELECT xact_rollback FROM pg_stat_database WHERE datname = 'shop'",
      "shop");
  REQUIRE(out.ok());
  std::vector<std::string> lines = absl::StrSplit(*out, '\n', absl::SkipEmpty());
  return std::stoll(lines.back());
}

double Own(const Scenario& sc) {
  return MetricValue(sc.agent->Metrics(), "pgwarden_own_rollbacks_total", {"target=\"shop\""})
      .value_or(-1);
}

int CountLines(const std::string& text, const std::string& what) {
  int n = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) n += absl::StrContains(line, what);
  return n;
}

// PsqlJobLog is the stderr of the psql jobs run in the cluster's directory.
std::string PsqlJobLog(const Scenario& sc) {
  std::string all;
  for (const auto& entry : std::filesystem::directory_iterator(sc.pg->dir())) {
    if (!absl::EndsWith(entry.path().string(), ".sql.log")) continue;
    std::ifstream in(entry.path());
    all.append(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  return all;
}

std::string TempFile(const std::string& name, const std::string& content) {
  std::string path = absl::StrCat("/tmp/pgwarden-iso-", ::getpid(), "-", name);
  std::ofstream(path) << content;
  return path;
}

TEST_CASE(
    "Isolation: every failed statement of the agent's sessions is counted as its own rollback",
    "[integration][isolation]") {
  Scenario sc(100);
  CreateArchive(sc);
  const std::string dsn = sc.pg->Dsn("shop", "pgwarden");
  auto conn = pg::Connect(dsn, {});
  REQUIRE(conn.ok());
  const int64_t server0 = ServerRollbacks(sc);
  const int64_t own0 = pg::OwnRollbacks(dsn);
  for (int i = 0; i < 5; ++i) {
    CHECK_FALSE((*conn)->Query("SELECT count(*) FROM archive.orders_2019").ok());
    CHECK_FALSE((*conn)->Execute("SELECT 'archive.orders_2019'::regclass", absl::Seconds(1)).ok());
  }
  CHECK((*conn)->Query("SELECT 1").ok());
  // Visible on the server right away (the failing session flushed its
  // statistics), and counted the same.
  CHECK(pg::OwnRollbacks(dsn) - own0 == 10);
  CHECK((*conn)->FailedStatements() == 10);
  CHECK(ServerRollbacks(sc) - server0 == 10);
}

TEST_CASE(
    "Isolation: an unreadable watched schema - the guard still cancels a DELETE without WHERE "
    "elsewhere, one log line, check names the GRANT, the rollback ratio sees none of the "
    "agent's errors",
    "[integration][isolation]") {
  Scenario sc(20000);
  CreateArchive(sc);
  const std::string yaml = ArchiveYaml(sc, "enforce");

  CommandResult check = Run({"check", "--config", TempFile("archive.yaml", yaml)});
  INFO(check.output);
  CHECK(check.code == 1);
  CHECK(absl::StrContains(check.output,
                          "missing privilege: USAGE on schema archive (permission denied for "
                          "schema archive"));
  CHECK(absl::StrContains(check.output, "GRANT USAGE ON SCHEMA \"archive\" TO \"pgwarden\";"));

  sc.StartAgent(yaml);
  const int64_t server0 = ServerRollbacks(sc);
  const double own0 = Own(sc);
  REQUIRE(own0 >= 0);
  // ~40 s of agent ticks against the unreadable schema, nothing else failing.
  absl::SleepFor(absl::Seconds(40));
  const int64_t server_delta = ServerRollbacks(sc) - server0;
  const double own_delta = Own(sc) - own0;
  std::cout << "[figure] over 40 s: xact_rollback +" << server_delta << ", agent's own +"
            << own_delta << "\n";
  // Every rollback in the window is the agent's own: the rollback ratio's
  // input (xact_rollback minus own) moved by nothing.
  CHECK(static_cast<double>(server_delta) == own_delta);

  const absl::Time t0 = absl::Now();
  auto job = StartCleanupJob(*sc.pg,
                             "\\set ON_ERROR_STOP 1\nBEGIN;\nDELETE FROM customers;\n"
                             "SELECT pg_sleep(60);\nCOMMIT;\n");
  REQUIRE(job.ok());
  auto page = sc.pager.WaitFor(
      [](const nlohmann::json& ev) {
        const std::string s = ev["payload"].value("summary", "");
        return ev.value("event_action", "") == "trigger" &&
               (absl::StrContains(s, "uncommitted DELETE or UPDATE of 20000 of 20000") ||
                absl::StrContains(s, "DELETE without WHERE on public.customers in flight"));
      },
      absl::Seconds(15));
  absl::StatusOr<int> job_exit = WaitProcess(*job, absl::Seconds(15));
  if (!job_exit.ok()) StopProcess(*job, absl::Seconds(2));
  const std::string log = sc.agent->Log();
  INFO(log);
  REQUIRE(page.has_value());
  std::cout << "[figure] DELETE without WHERE beside an unreadable schema cancelled after "
            << absl::ToDoubleSeconds(absl::Now() - t0) << " s\n";
  REQUIRE(job_exit.ok());
  CHECK(*job_exit != 0);
  CHECK(sc.Count("customers") == 20000);
  CHECK(CountLines(log, "cannot read schema archive") == 1);
  CHECK(CountLines(log, "session guard: ") == 0);  // the guard never failed
  for (const ReceivedEvent& ev : sc.pager.events()) {
    CHECK_FALSE(absl::StrContains(ev.body["payload"].value("summary", ""), "rollback ratio"));
  }
  CHECK(MetricValue(sc.agent->Metrics(), "pgwarden_object_errors_total",
                    {"target=\"shop\"", "object_kind=\"schema\""}) == 1.0);
  CHECK(MetricValue(sc.agent->Metrics(), "pgwarden_object_errors_total",
                    {"target=\"shop\"", "object_kind=\"table\""}) == 0.0);
  // /status lists the unreadable schema with its error and GRANT.
  httplib::Client cli("127.0.0.1", sc.agent->port());
  auto res = cli.Get("/status");
  REQUIRE(res);
  const nlohmann::json status = nlohmann::json::parse(res->body, nullptr, false);
  INFO(res->body);
  REQUIRE(status.contains("targets"));
  const nlohmann::json objects = status["targets"][0].value("unreadable_objects", nlohmann::json());
  REQUIRE(objects.size() == 1);
  CHECK(objects[0]["name"] == "archive");
  CHECK(objects[0]["error"] == "permission denied for schema archive");
  CHECK(objects[0]["grant"] == "GRANT USAGE ON SCHEMA \"archive\" TO \"pgwarden\";");
}

TEST_CASE(
    "Isolation: ALTER TABLE DROP COLUMN waiting for its lock is paged as destructive_ddl and "
    "cancelled",
    "[integration][isolation]") {
  Scenario sc(2000);
  REQUIRE(sc.pg
              ->Psql("CREATE ROLE migrator LOGIN PASSWORD 'migrator-pw'; "
                     "GRANT shop_owner TO migrator")
              .ok());
  sc.StartAgent(sc.Yaml("enforce", kEnforce));
  // A long reader holds AccessShareLock on customers: the ALTER queues.
  pqxx::connection reader(sc.pg->Dsn("shop", "postgres"));
  pqxx::work open_tx(reader);
  open_tx.exec("SELECT count(*) FROM customers");
  const absl::Time t0 = absl::Now();
  auto alter =
      StartPsqlJob(*sc.pg, "\\set ON_ERROR_STOP 1\nALTER TABLE customers DROP COLUMN email;\n",
                   "migrator", "migrator-pw", "migration");
  REQUIRE(alter.ok());
  auto page = sc.pager.WaitFor(IsTriggerFor("DROP COLUMN email"), absl::Seconds(15));
  const double to_page = absl::ToDoubleSeconds(absl::Now() - t0);
  absl::StatusOr<int> alter_exit = WaitProcess(*alter, absl::Seconds(15));
  const double to_cancel = absl::ToDoubleSeconds(absl::Now() - t0);
  if (!alter_exit.ok()) StopProcess(*alter, absl::Seconds(2));
  open_tx.abort();
  INFO(sc.agent->Log());
  REQUIRE(page.has_value());
  const nlohmann::json details = page->body["payload"].value("custom_details", nlohmann::json());
  INFO(page->body.dump());
  CHECK(absl::StrContains(details.dump(), "destructive_ddl"));
  CHECK(absl::StrContains(page->body["payload"]["summary"].get<std::string>(), "migrator"));
  CHECK(absl::StrContains(page->body["payload"]["summary"].get<std::string>(),
                          "waiting for its lock"));
  REQUIRE(alter_exit.ok());
  CHECK(*alter_exit != 0);
  CHECK(absl::StrContains(PsqlJobLog(sc), "canceling statement due to user request"));
  auto column = sc.pg->Psql(
      "SELECT count(*) FROM information_schema.columns WHERE table_name = 'customers' "
      "AND column_name = 'email'",
      "shop");
  REQUIRE(column.ok());
  CHECK(*column == "1");
  std::cout << "[figure] ALTER TABLE DROP COLUMN waiting for its lock: paged after " << to_page
            << " s, cancelled (psql exited) after " << to_cancel << " s\n";
}

}  // namespace
}  // namespace pgwarden::testing
