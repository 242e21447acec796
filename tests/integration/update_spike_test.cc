// Mass overwrites (update_spike): a script rewriting customers' e-mails in
// 1,000-row batches at ~5,000 rows/s, as the non-superuser role cleanup_job,
// on a 100,000-row table after a warm-up of steady light updates by the
// application: paged naming table and role, and contained in enforce mode,
// per path (the change stream, the statement counters, the statistics).
// And steady pgbench updates for 60 s, watched by two agents (stream +
// statistics, statements + statistics): no page.

#include <sys/stat.h>

#include <fstream>
#include <iostream>
#include <pqxx/pqxx>

#include "absl/strings/match.h"
#include "absl/time/clock.h"
#include "devtools/process.h"
#include "tests/integration/commit_time.h"

namespace pgwarden::testing {
namespace {

constexpr char kEnforce[] = "  actions: [nologin, revoke_writes, terminate]\n";
constexpr int64_t kRows = 100000;

// OverwriteSql rewrites `batches` batches of 1,000 customers' e-mails, one
// transaction each, 200 ms apart.
std::string OverwriteSql(int batches) {
  std::string sql = "\\set ON_ERROR_STOP 1\n";
  for (int i = 0; i < batches; ++i) {
    absl::StrAppend(&sql, "UPDATE customers SET email = 'overwritten-' || id || '@example.com' ",
                    "WHERE id > ", i * 1000, " AND id <= ", (i + 1) * 1000, ";\n",
                    "SELECT pg_sleep(0.2);\n");
  }
  return sql;
}

// IsUpdateSpikeFor matches a trigger naming `table` whose details hold an
// update_spike.
std::function<bool(const nlohmann::json&)> IsUpdateSpikeFor(const std::string& table) {
  return [table](const nlohmann::json& ev) {
    if (ev.value("event_action", "") != "trigger") return false;
    const nlohmann::json& p = ev["payload"];
    return p.value("summary", "").find(table) != std::string::npos &&
           p.contains("custom_details") && p["custom_details"].contains("update_spike");
  };
}

// Contained: the role can no longer log in and has no session left.
bool Contained(pqxx::connection& su, const std::string& role) {
  pqxx::nontransaction tx(su);
  pqxx::row r = tx.exec_params1(
      "SELECT (SELECT rolcanlogin FROM pg_roles WHERE rolname = $1), "
      "(SELECT count(*) FROM pg_stat_activity WHERE usename = $1)",
      role);
  return !r[0].as<bool>() && r[1].as<int64_t>() == 0;
}

void MassOverwrite(Path path) {
  Scenario sc(kRows, LogicalOptions());
  ChurnWorkload churn(sc.pg->Dsn("shop", kAppRole, kAppPassword));
  churn.Start();  // steady light updates (and inserts, deletes) all along
  if (path == Path::kStream) GrantReplication(sc);
  sc.StartAgent(WithTargetLines(sc.Yaml("enforce", kEnforce), TargetLines(path)));
  if (path == Path::kStream) WaitStreaming(sc);
  // The update-rate baseline warms up in 10 samples (10 s of statistics).
  absl::SleepFor(absl::Seconds(10));
  REQUIRE_FALSE(sc.pager.WaitFor(IsUpdateSpikeFor("customers"), absl::ZeroDuration()));

  pqxx::connection su(sc.pg->Dsn("shop", "postgres"));
  const absl::Time start = absl::Now();
  auto job = StartCleanupJob(*sc.pg, OverwriteSql(60));
  REQUIRE(job.ok());
  auto page = sc.pager.WaitFor(IsUpdateSpikeFor("customers"), absl::Seconds(20));
  absl::Time contained_at;
  const bool contained = WaitUntil(
      [&] {
        if (!Contained(su, kCleanupRole)) return false;
        contained_at = absl::Now();
        return true;
      },
      absl::Seconds(30));
  absl::StatusOr<int> exit = WaitProcess(*job, absl::Seconds(10));
  if (!exit.ok()) StopProcess(*job, absl::Seconds(2));
  churn.Stop();
  const int64_t overwritten = std::stoll(*sc.pg->Psql(
      "SELECT count(*) FROM customers WHERE email LIKE 'overwritten-%'", kShopDatabase));
  INFO(sc.agent->Log());
  REQUIRE(page.has_value());
  REQUIRE(contained);
  std::cout << "[figure] mass overwrite " << PathName(path) << ": paged after "
            << absl::ToDoubleSeconds(page->at - start) << " s; contained after "
            << absl::ToDoubleSeconds(contained_at - start) << " s; rows overwritten " << overwritten
            << " of " << kRows << "\n";
  std::cout << "[page] " << page->body["payload"].value("summary", "") << "\n";
  CHECK(sc.pager.violations().empty());
  // The page names the table and the role; most rows were kept.
  bool named = false;
  for (const ReceivedEvent& e : sc.pager.events()) {
    named = named || (IsUpdateSpikeFor("customers")(e.body) &&
                      absl::StrContains(e.body["payload"].value("summary", ""), kCleanupRole));
  }
  CHECK(named);
  CHECK(overwritten < 30000);
  // The statistics' update-rate score of the table is a series of its own.
  CHECK(MetricValue(sc.agent->Metrics(), "pgwarden_anomaly_score",
                    {"signal=\"update_rate\"", "table=\"customers\""})
            .has_value());
}

TEST_CASE("Update spike: a batched mass UPDATE is paged and contained via the change stream",
          "[integration][update_spike]") {
  MassOverwrite(Path::kStream);
}

TEST_CASE("Update spike: a batched mass UPDATE is paged and contained from the statistics only",
          "[integration][update_spike]") {
  MassOverwrite(Path::kStatsOnly);
}

// Hidden (run by bench/update_spike.sh): the statement counters' path.
TEST_CASE("Update spike: a batched mass UPDATE is paged and contained via the statement counters",
          "[.][update_spike]") {
  MassOverwrite(Path::kStatements);
}

// kPgbenchScript updates one random customer's name, and a hot counter row.
constexpr char kPgbenchScript[] =
    "\\set id random(1, 100000)\n"
    "UPDATE customers SET name = 'customer ' || :id WHERE id = :id;\n"
    "UPDATE counters SET n = n + 1 WHERE id = :id % 10;\n";

TEST_CASE("Update spike: steady pgbench updates for 60 s page nothing, on any path",
          "[integration][update_spike]") {
  Scenario sc(kRows, LogicalOptions());
  REQUIRE(sc.pg
              ->Psql("CREATE TABLE counters (id int PRIMARY KEY, n bigint NOT NULL);"
                     "INSERT INTO counters SELECT g, 0 FROM generate_series(0, 9) g;"
                     "GRANT SELECT, UPDATE ON counters TO app;",
                     kShopDatabase)
              .ok());
  const std::string script = absl::StrCat(sc.pg->dir(), "/steady.sql");
  {
    std::ofstream out(script);
    out << kPgbenchScript;
    REQUIRE(out.good());
  }
  ProcessOptions bench;
  bench.argv = {"/usr/lib/postgresql/15/bin/pgbench",
                "-n",
                "-f",
                script,
                "-R",
                "600",
                "-c",
                "2",
                "-T",
                "60",
                "-h",
                "127.0.0.1",
                "-p",
                absl::StrCat(sc.pg->port()),
                "-U",
                kAppRole,
                kShopDatabase};
  bench.env = {absl::StrCat("PGPASSWORD=", kAppPassword), "PGAPPNAME=steady-app"};
  bench.stdout_path = script + ".out";
  bench.stderr_path = script + ".log";
  auto pgbench = SpawnProcess(bench);
  REQUIRE(pgbench.ok());
  const absl::Time start = absl::Now();

  // Agent one: the change stream (and the statistics).
  GrantReplication(sc);
  sc.StartAgent(WithTargetLines(sc.Yaml("off"), TargetLines(Path::kStream)));
  WaitStreaming(sc);
  // Agent two: the statement counters (and the statistics), its own state.
  const std::string dir2 = absl::StrCat(sc.pg->dir(), "/agent2");
  REQUIRE(mkdir(dir2.c_str(), 0700) == 0);
  std::string yaml2 = sc.Yaml("off");
  yaml2.replace(yaml2.find("/state\n"), 7, "/agent2/state\n");
  auto second = AgentProcess::Start(dir2, WithTargetLines(yaml2, TargetLines(Path::kStatements)));
  REQUIRE(second.ok());

  absl::StatusOr<int> exit = WaitProcess(*pgbench, absl::Seconds(80));
  if (!exit.ok()) StopProcess(*pgbench, absl::Seconds(2));
  absl::SleepFor(absl::Seconds(2));  // the last samples and fast ticks
  INFO(sc.agent->Log());
  INFO((*second)->Log());
  REQUIRE(exit.ok());
  CHECK(*exit == 0);
  const std::string updated = *sc.pg->Psql(
      "SELECT n_tup_upd FROM pg_stat_user_tables WHERE relname = 'counters'", kShopDatabase);
  std::cout << "[figure] steady pgbench " << absl::ToDoubleSeconds(absl::Now() - start)
            << " s: counters updated " << updated << " times; pages " << sc.pager.events().size()
            << "\n";
  CHECK(std::stoll(updated) > 20000);  // the load ran (~600 a second)
  CHECK(sc.pager.events().empty());
}

}  // namespace
}  // namespace pgwarden::testing
