// Seeing destructive changes when they commit: the cleanup script and a
// purge procedure committing inside one CALL, once per path (the change
// stream, the statement fast path, the statistics only), with the real agent
// in enforce mode on real PostgreSQL 15 (wal_level = logical), and a large
// DELETE rolled back that must never page as row loss.

#include "tests/integration/commit_time.h"

#include <cstdlib>
#include <iostream>
#include <pqxx/pqxx>

#include "absl/strings/match.h"
#include "absl/time/clock.h"
#include "devtools/process.h"

namespace pgwarden::testing {
namespace {

constexpr char kEnforce[] = "  actions: [nologin, revoke_writes, terminate]\n";
// Rows of the customers table: PGWARDEN_TEST_ROWS, by default and at least
// 300,000 (the rolled-back case deletes 200,000 of them);
// bench/commit_time.sh runs the cases on 1,000,000.
int64_t TableRows() {
  const char* env = std::getenv("PGWARDEN_TEST_ROWS");
  const int64_t n = env != nullptr ? std::atoll(env) : 0;
  return n >= 300000 ? n : 300000;
}
const int64_t kRows = TableRows();

// Contained: the role can no longer log in and has no session left.
bool Contained(pqxx::connection& su, const std::string& role) {
  pqxx::nontransaction tx(su);
  pqxx::row r = tx.exec_params1(
      "SELECT (SELECT rolcanlogin FROM pg_roles WHERE rolname = $1), "
      "(SELECT count(*) FROM pg_stat_activity WHERE usename = $1)",
      role);
  return !r[0].as<bool>() && r[1].as<int64_t>() == 0;
}

// StartAgentOn starts the agent on `path` and waits until that path is
// live and the fast tick's baselines are warm.
void StartAgentOn(Scenario& sc, Path path, const std::string& mode = "enforce") {
  if (path == Path::kStream) GrantReplication(sc);
  std::string yaml = WithTargetLines(sc.Yaml(mode, kEnforce), TargetLines(path));
  if (std::getenv("PGWARDEN_TEST_VERBOSE") != nullptr) yaml += "log_level: debug\n";
  sc.StartAgent(yaml);
  if (path == Path::kStream) WaitStreaming(sc);
  absl::SleepFor(absl::Seconds(8));  // 30 fast ticks: the delete-rate baseline
}

// Containment runs `job` against the agent in enforce mode and reports
// seconds to the first page naming `table`, seconds to containment and rows
// lost, as a [figure] line for bench/commit_time.sh.
void Containment(Scenario& sc, Path path, const std::string& what, pid_t job, absl::Time start,
                 int64_t before) {
  pqxx::connection su(sc.pg->Dsn("shop", "postgres"));
  auto page = sc.pager.WaitFor(IsTriggerFor("customers"), absl::Seconds(20));
  absl::Time contained_at;
  const bool contained = WaitUntil(
      [&] {
        if (!Contained(su, kCleanupRole)) return false;
        contained_at = absl::Now();
        return true;
      },
      absl::Seconds(30));
  absl::StatusOr<int> exit = WaitProcess(job, absl::Seconds(10));
  if (!exit.ok()) StopProcess(job, absl::Seconds(2));
  const int64_t after = sc.Count("customers");
  INFO(sc.agent->Log());
  REQUIRE(page.has_value());
  REQUIRE(contained);
  std::cout << "[figure] " << what << " " << PathName(path) << ": paged after "
            << absl::ToDoubleSeconds(page->at - start) << " s; contained after "
            << absl::ToDoubleSeconds(contained_at - start) << " s; rows lost " << (before - after)
            << " of " << before << "\n";
  std::cout << "[page] " << page->body["payload"].value("summary", "") << "\n";
  if (std::getenv("PGWARDEN_TEST_VERBOSE") != nullptr) {
    std::cout << "[start] " << absl::FormatTime(start) << "\n"
              << page->body.dump(1) << "\n"
              << sc.agent->Log();
  }
  CHECK(sc.pager.violations().empty());
  // Most rows kept; the page names the role.
  CHECK(static_cast<double>(before - after) < 0.2 * static_cast<double>(before));
  bool named = false;
  for (const ReceivedEvent& e : sc.pager.events()) {
    named = named || absl::StrContains(e.body["payload"].value("summary", ""), "cleanup_job");
  }
  CHECK(named);
}

void CleanupScript(Path path) {
  Scenario sc(kRows, LogicalOptions());
  StartAgentOn(sc, path);
  const int64_t before = sc.Count("customers");
  const absl::Time start = absl::Now();
  auto job =
      StartCleanupJob(*sc.pg, CleanupScriptSql("customers", 1000, 1000, absl::Milliseconds(200)));
  REQUIRE(job.ok());
  Containment(sc, path, "cleanup script", *job, start, before);
}

TEST_CASE("Commit time: the cleanup script is paged and contained via the change stream",
          "[integration][commit_time]") {
  CleanupScript(Path::kStream);
}

TEST_CASE("Commit time: the cleanup script is paged and contained via the statement fast path",
          "[integration][commit_time]") {
  CleanupScript(Path::kStatements);
}

TEST_CASE("Commit time: the cleanup script is paged and contained from the statistics only",
          "[integration][commit_time]") {
  CleanupScript(Path::kStatsOnly);
}

// kPurgeProcedure deletes `chunk` rows and COMMITs, in a loop, inside one
// CALL: the statistics see nothing until the CALL returns.
constexpr char kPurgeProcedure[] =
    "CREATE PROCEDURE public.purge_customers(chunk int, pause float8) LANGUAGE plpgsql AS $$ "
    "BEGIN LOOP "
    "  DELETE FROM public.customers WHERE id IN "
    "    (SELECT id FROM public.customers ORDER BY id LIMIT chunk); "
    "  EXIT WHEN NOT FOUND; COMMIT; PERFORM pg_sleep(pause); "
    "END LOOP; END $$";

void PurgeProcedure(Path path, const std::string& extra_conf = "") {
  LocalPostgresOptions options = LogicalOptions();
  if (!extra_conf.empty()) options.extra_conf.push_back(extra_conf);
  Scenario sc(kRows, options);
  REQUIRE(sc.pg->Psql(kPurgeProcedure, "shop").ok());
  StartAgentOn(sc, path);
  const int64_t before = sc.Count("customers");
  const absl::Time start = absl::Now();
  auto job = StartCleanupJob(*sc.pg, "CALL public.purge_customers(2000, 0.2);\n");
  REQUIRE(job.ok());
  Containment(sc, path, "purge procedure", *job, start, before);
}

TEST_CASE("Commit time: a purge procedure committing inside one CALL is stopped, with the stream",
          "[integration][commit_time]") {
  PurgeProcedure(Path::kStream);
}

TEST_CASE(
    "Commit time: a purge procedure committing inside one CALL is stopped by the statement "
    "counters with pg_stat_statements.track = all",
    "[integration][commit_time]") {
  PurgeProcedure(Path::kStatements, "pg_stat_statements.track = all");
}

// With pg_stat_statements at its default (track = top), the statements of
// the CALL are counted only when it returns: only the watch for sessions
// that commit inside one statement (and its row-count probe) sees the purge.
TEST_CASE("Commit time: a purge procedure is stopped by the commit-in-statement watch alone",
          "[integration][commit_time]") {
  PurgeProcedure(Path::kStatements, "pg_stat_statements.track = top");
}

void RolledBack(Path path) {
  Scenario sc(kRows, LogicalOptions());
  StartAgentOn(sc, path, "off");
  auto job = StartCleanupJob(*sc.pg,
                             "BEGIN;\nDELETE FROM customers WHERE id <= 200000;\n"
                             "SELECT pg_sleep(2);\nROLLBACK;\n");
  REQUIRE(job.ok());
  absl::StatusOr<int> exit = WaitProcess(*job, absl::Seconds(60));
  if (!exit.ok()) StopProcess(*job, absl::Seconds(2));
  REQUIRE(exit.ok());
  absl::SleepFor(absl::Seconds(6));  // several samples and fast ticks after
  INFO(sc.agent->Log());
  CHECK(sc.Count("customers") == kRows);
  CHECK_FALSE(HasKindPage(sc.pager, "row_loss", "customers"));
  CHECK_FALSE(HasKindPage(sc.pager, "delete_spike", "customers"));
}

TEST_CASE("Commit time: a 200,000-row DELETE rolled back pages no row loss, with the stream",
          "[integration][commit_time]") {
  RolledBack(Path::kStream);
}

TEST_CASE("Commit time: a 200,000-row DELETE rolled back pages no row loss, on the fast path",
          "[integration][commit_time]") {
  RolledBack(Path::kStatements);
}

}  // namespace
}  // namespace pgwarden::testing
