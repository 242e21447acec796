// A target that names a server: every database discovered and watched,
// databases created and dropped while the agent runs; the cheaper sampling
// query against pg_stat_user_tables; /metrics gzip and per_table bounds.
#include <httplib.h>
#include <zlib.h>

#include <fstream>
#include <set>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "catch2/catch.hpp"
#include "devtools/local_postgres.h"
#include "pg/connect.h"
#include "sources/pg_sampler.h"
#include "tests/integration/scenario.h"
#include "tests/support/agent_process.h"
#include "tests/support/pd_receiver.h"

namespace pgwarden::testing {
namespace {

std::unique_ptr<LocalPostgres> StartServer() {
  LocalPostgresOptions o;
  o.extra_conf = {"log_connections = on"};
  auto pg = LocalPostgres::Start(o);
  REQUIRE(pg.ok());
  REQUIRE((*pg)
              ->Psql("CREATE ROLE pgwarden LOGIN; GRANT pg_monitor, pg_signal_backend TO pgwarden")
              .ok());
  return std::move(*pg);
}

// MakeDatabase creates `db` with tables t (2,000 rows) and u (1,000 rows).
void MakeDatabase(const LocalPostgres& pg, const std::string& db) {
  REQUIRE(pg.Psql(absl::StrCat("CREATE DATABASE ", db)).ok());
  REQUIRE(pg.Psql("CREATE TABLE t AS SELECT g AS id FROM generate_series(1, 2000) g", db).ok());
  REQUIRE(pg.Psql("CREATE TABLE u AS SELECT g AS id FROM generate_series(1, 1000) g", db).ok());
  REQUIRE(pg.Psql("ANALYZE", db).ok());
}

std::string ServerYaml(const LocalPostgres& pg, const PdReceiver& pager) {
  return absl::StrCat(
      "environment: production\ninterval: 1s\nstate_dir: ", pg.dir(), "/state\n",
      "targets:\n  - name: main\n    dsn: \"", pg.Dsn("postgres", "pgwarden"), "\"\n",
      "    databases:\n      include: [\"*\"]\n",
      "      exclude: [\"template*\", \"postgres\", \"skipme\"]\n", "    discovery_interval: 1s\n",
      "alerting:\n  sinks:\n    - name: oncall\n      type: pagerduty\n      url: ", pager.url(),
      "\n      routing_key: \"R0UTINGKEY0000000000000000000000\"\n");
}

bool DatabaseUp(const AgentProcess& agent, const std::string& db) {
  return MetricValue(agent.Metrics(), "pgwarden_up",
                     {"target=\"main\"", absl::StrCat("database=\"", db, "\"")}) == 1.0;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Triggers lists the dedup keys of triggers whose summary holds `what`
// since `since`.
std::set<std::string> Triggers(const PdReceiver& pager, const std::string& what, absl::Time since) {
  std::set<std::string> keys;
  for (const ReceivedEvent& ev : pager.events()) {
    if (ev.at >= since && IsTriggerFor(what)(ev.body)) {
      keys.insert(ev.body.value("dedup_key", ""));
    }
  }
  return keys;
}

}  // namespace

TEST_CASE(
    "Server target: every database is watched - one created after start too - a TRUNCATE in "
    "each is paged naming its database and an excluded one is never connected to",
    "[integration][server]") {
  auto pg = StartServer();
  for (const char* db : {"app1", "app2", "app3", "skipme"}) MakeDatabase(*pg, db);
  PdReceiver pager;
  auto agent = AgentProcess::Start(pg->dir(), ServerYaml(*pg, pager));
  REQUIRE(agent.ok());
  AgentProcess& a = **agent;
  INFO(a.Log());
  REQUIRE(
      WaitUntil([&] { return DatabaseUp(a, "app1") && DatabaseUp(a, "app3"); }, absl::Seconds(20)));
  MakeDatabase(*pg, "app4");
  REQUIRE(WaitUntil([&] { return DatabaseUp(a, "app4"); }, absl::Seconds(15)));
  absl::SleepFor(absl::Seconds(3));  // baselines
  // Per-table series carry the database.
  CHECK(MetricValue(a.Metrics(), "pgwarden_table_rows",
                    {"database=\"app2\"", "table=\"t\"", "target=\"main\""}) == 2000.0);
  for (const char* db : {"app1", "app2", "app3", "app4"}) {
    const absl::Time t0 = absl::Now();
    REQUIRE(pg->Psql("TRUNCATE t", db).ok());
    auto paged = pager.WaitFor(
        [&](const nlohmann::json& ev) {
          const std::string summary = ev["payload"].value("summary", "");
          return ev.value("event_action", "") == "trigger" &&
                 absl::StrContains(summary, absl::StrCat("main/", db, ":")) &&
                 absl::StrContains(summary, "truncated");
        },
        absl::Seconds(10));
    REQUIRE(paged.has_value());
    std::cout << "[figure] TRUNCATE in " << db << " paged after "
              << absl::ToDoubleSeconds(paged->at - t0) << " s\n";
    CHECK(paged->at - t0 <= absl::Seconds(3));
    CHECK(paged->body["payload"].value("group", "") == absl::StrCat("main/", db));
  }
  // The server log names every connection: the agent's to app1, none to skipme.
  const std::string log = ReadFile(pg->log_path());
  CHECK(absl::StrContains(log, "user=pgwarden database=app1"));
  CHECK(absl::StrContains(log, "user=postgres database=skipme"));  // the test's own
  CHECK_FALSE(absl::StrContains(log, "user=pgwarden database=skipme"));
  CHECK(pager.violations().empty());
}

TEST_CASE(
    "Server target: a watched database dropped is paged once - not per table - and its "
    "series go",
    "[integration][server]") {
  auto pg = StartServer();
  for (const char* db : {"app1", "app2"}) MakeDatabase(*pg, db);
  PdReceiver pager;
  auto agent = AgentProcess::Start(pg->dir(), ServerYaml(*pg, pager));
  REQUIRE(agent.ok());
  AgentProcess& a = **agent;
  INFO(a.Log());
  REQUIRE(
      WaitUntil([&] { return DatabaseUp(a, "app1") && DatabaseUp(a, "app2"); }, absl::Seconds(20)));
  absl::SleepFor(absl::Seconds(3));
  const absl::Time t0 = absl::Now();
  REQUIRE(pg->Psql("DROP DATABASE app2 WITH (FORCE)").ok());
  auto paged = pager.WaitFor(
      [&](const nlohmann::json& ev) {
        const std::string summary = ev["payload"].value("summary", "");
        return ev.value("event_action", "") == "trigger" &&
               absl::StrContains(summary, "main/app2") && absl::StrContains(summary, "database");
      },
      absl::Seconds(15));
  REQUIRE(paged.has_value());
  std::cout << "[figure] DROP DATABASE paged after " << absl::ToDoubleSeconds(paged->at - t0)
            << " s\n";
  // Its series go; the other database's stay.
  CHECK(WaitUntil(
      [&] {
        const std::string m = a.Metrics();
        return !MetricValue(m, "pgwarden_up", {"database=\"app2\""}) &&
               !MetricValue(m, "pgwarden_table_rows", {"database=\"app2\""});
      },
      absl::Seconds(10)));
  absl::SleepFor(absl::Seconds(3));
  CHECK(DatabaseUp(a, "app1"));
  // One incident: no page per table of the dropped database.
  CHECK(Triggers(pager, "main/app2", t0).size() == 1);
  CHECK(Triggers(pager, "public.t", t0).empty());
  CHECK(pager.violations().empty());
}

TEST_CASE(
    "Sampling query: the pg_stat_get functions return what pg_stat_user_tables does for "
    "every column the detectors use",
    "[integration][server]") {
  auto pg = StartServer();
  REQUIRE(pg->Psql("CREATE DATABASE shapes").ok());
  const char* kSetup[] = {
      "CREATE TABLE plain (id int PRIMARY KEY, v text); CREATE INDEX ON plain (v)",
      "CREATE TABLE parted (id int, k int) PARTITION BY RANGE (k)",
      "CREATE TABLE parted_1 PARTITION OF parted FOR VALUES FROM (0) TO (100)",
      "CREATE TABLE parted_2 PARTITION OF parted FOR VALUES FROM (100) TO (200)",
      "CREATE TABLE toasted (id int PRIMARY KEY, doc text)",
      "CREATE UNLOGGED TABLE scratch (id int PRIMARY KEY)",
      "INSERT INTO plain SELECT g, md5(g::text) FROM generate_series(1, 3000) g",
      "INSERT INTO parted SELECT g, g % 200 FROM generate_series(1, 4000) g",
      "INSERT INTO toasted SELECT g, repeat(md5(g::text), 500) FROM generate_series(1, 50) g",
      "INSERT INTO scratch SELECT generate_series(1, 700)",
      "UPDATE plain SET v = 'x' WHERE id <= 500",
      "DELETE FROM parted WHERE k < 30",
      "DELETE FROM toasted WHERE id <= 10",
      "VACUUM ANALYZE plain",
      "CREATE MATERIALIZED VIEW mv AS SELECT id FROM plain",
      "SELECT count(*) FROM plain WHERE v = 'x'"};
  for (const char* sql : kSetup) REQUIRE(pg->Psql(sql, "shapes").ok());
  auto conn = pg::Connect(pg->Dsn("shapes", "pgwarden"), {});
  REQUIRE(conn.ok());
  // One snapshot of the statistics for both reads.
  REQUIRE((*conn)->Query("SET stats_fetch_consistency = snapshot").ok());
  REQUIRE((*conn)->Query("BEGIN").ok());
  auto ours = (*conn)->Query(kSampleTablesSql);
  auto view = (*conn)->Query(
      "SELECT s.relid::int8, s.n_live_tup, s.n_dead_tup, s.n_tup_ins, s.n_tup_upd, s.n_tup_del, "
      "s.vacuum_count + s.autovacuum_count + s.analyze_count + s.autoanalyze_count, "
      "s.n_mod_since_analyze, c.relname FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = "
      "s.relid WHERE c.relkind <> 'p'");
  REQUIRE(ours.ok());
  REQUIRE(view.ok());
  REQUIRE((*conn)->Query("COMMIT").ok());
  std::map<int64_t, std::vector<int64_t>> expected;
  std::set<std::string> names;
  for (const pg::Row& r : *view) {
    expected[r.Int(0)] = {r.Int(1), r.Int(2), r.Int(3), r.Int(4), r.Int(5), r.Int(6), r.Int(7)};
    names.insert(r.Text(8));
  }
  // Every shape is there: a partition, the TOAST-backed table, the unlogged
  // table and the materialized view (the partitioned parent is not).
  for (const char* n : {"plain", "parted_1", "parted_2", "toasted", "scratch", "mv"}) {
    CHECK(names.count(n) == 1);
  }
  REQUIRE(ours->size() == expected.size());
  for (const pg::Row& r : *ours) {
    INFO(r.Text(3));
    REQUIRE(expected.count(r.Int(0)) == 1);
    const std::vector<int64_t> got = {r.Int(4), r.Int(5), r.Int(6), r.Int(7),
                                      r.Int(8), r.Int(9), r.Int(10)};
    CHECK(got == expected[r.Int(0)]);
    if (absl::StartsWith(r.Text(3), "parted_")) CHECK(r.Text(12) == "parted");
  }
}

}  // namespace pgwarden::testing
