// One incident per cause (real PostgreSQL 15, the real agent, a PagerDuty
// Events v2 receiver): a script deleting from three tables and from a
// partitioned table is one page naming them all; two roles wiping two
// tables are two incidents; the failed logins and rollbacks that follow a
// cleanup update its incident instead of paging again.

#include <iostream>
#include <map>
#include <set>

#include "absl/strings/match.h"
#include "absl/time/clock.h"
#include "devtools/process.h"
#include "tests/integration/scenario.h"
#include "tests/integration/storms.h"

namespace pgwarden::testing {
namespace {

const std::vector<std::string> kTables = {"carts", "sessions_log", "audit_trail"};
constexpr int kRows = 20000;
constexpr int kPartitions = 24;
constexpr int kPartitionRows = 6000;  // a fifth (1,200) is past the 1,000-row minimum

bool IsTrigger(const ReceivedEvent& ev) { return ev.body.value("event_action", "") == "trigger"; }

std::string CreateTablesSql() {
  std::string sql;
  for (const std::string& t : kTables) {
    absl::StrAppend(&sql, "CREATE TABLE ", t, " (id bigint PRIMARY KEY, v text);", "INSERT INTO ",
                    t, " SELECT g, 'x' FROM generate_series(1, ", kRows, ") g;");
  }
  absl::StrAppend(&sql,
                  "CREATE TABLE events (id bigint NOT NULL, v text) PARTITION BY RANGE (id);");
  for (int i = 0; i < kPartitions; ++i) {
    absl::StrAppend(&sql, "CREATE TABLE events_p", i, " PARTITION OF events FOR VALUES FROM (",
                    i * kPartitionRows + 1, ") TO (", (i + 1) * kPartitionRows + 1, ");");
  }
  absl::StrAppend(&sql, "INSERT INTO events SELECT g, 'e' FROM generate_series(1, ",
                  kPartitions * kPartitionRows, ") g;", "ANALYZE;",
                  "CREATE ROLE archiver LOGIN PASSWORD 'archiver-pw';",
                  "GRANT SELECT, DELETE ON ALL TABLES IN SCHEMA public TO cleanup_job, archiver;",
                  "GRANT SELECT ON ALL TABLES IN SCHEMA public TO pgwarden;");
  return sql;
}

// Batches deletes `rounds` rounds of `batch` rows from each of `tables`,
// one transaction per batch, pausing `pause` after each round.
std::string Batches(const std::vector<std::string>& tables, int rounds, int batch, double pause) {
  std::string sql;
  for (int r = 0; r < rounds; ++r) {
    for (const std::string& t : tables) {
      absl::StrAppend(&sql, "DELETE FROM ", t, " WHERE id IN (SELECT id FROM ", t,
                      " ORDER BY id LIMIT ", batch, ");\n");
    }
    absl::StrAppend(&sql, "SELECT pg_sleep(", pause, ");\n");
  }
  return sql;
}

// LastTrigger is the latest trigger with dedup key `key`.
std::optional<ReceivedEvent> LastTrigger(const PdReceiver& pager, const std::string& key) {
  std::optional<ReceivedEvent> last;
  for (const ReceivedEvent& ev : pager.events()) {
    if (IsTrigger(ev) && ev.body.value("dedup_key", "") == key) last = ev;
  }
  return last;
}

TEST_CASE("Incidents: one role's script across three tables and a partitioned table is one page",
          "[integration][incidents]") {
  Scenario sc(1000);
  auto made = sc.pg->Psql(CreateTablesSql(), kShopDatabase);
  INFO(made.status().message());
  REQUIRE(made.ok());
  sc.StartAgent(sc.Yaml());
  REQUIRE(sc.pager.events().empty());

  // Rounds of 500 rows from each table every 0.5 s (about 1,000 rows per
  // table per sample), with a fifth of the partitioned table deleted in one
  // statement in the middle.
  const int rounds = 16;
  const int batch = 500;
  const std::string script = absl::StrCat(Batches(kTables, rounds / 2, batch, 0.5),
                                          "DELETE FROM events WHERE id % 5 = 0;\n",
                                          Batches(kTables, rounds / 2, batch, 0.5));
  const absl::Time t0 = absl::Now();
  auto job = StartCleanupJob(*sc.pg, script);
  REQUIRE(job.ok());
  absl::StatusOr<int> exit = WaitProcess(*job, absl::Seconds(60));
  if (!exit.ok()) StopProcess(*job, absl::Seconds(2));
  REQUIRE(exit.ok());
  REQUIRE(*exit == 0);
  const absl::Time script_end = absl::Now();
  // Past the last samples and the update interval: the last update is in.
  absl::SleepFor(absl::Seconds(14));
  INFO(sc.agent->Log());

  std::map<std::string, int> triggers_by_key;
  for (const ReceivedEvent& ev : sc.pager.events()) {
    INFO(ev.body.dump());
    if (!IsTrigger(ev)) continue;
    const std::string key = ev.body.value("dedup_key", "");
    ++triggers_by_key[key];
    CHECK_FALSE(absl::StrContains(key, "events_p"));  // never a partition's own page
  }
  // One page (at most one more for a residue never attributed).
  REQUIRE(!triggers_by_key.empty());
  CHECK(triggers_by_key.size() <= 2);
  std::string main_key;
  size_t most = 0;
  for (const auto& [key, n] : triggers_by_key) {
    auto last = LastTrigger(sc.pager, key);
    const size_t tables = last->body["payload"]["custom_details"]["tables"].size();
    if (tables > most) {
      most = tables;
      main_key = key;
    }
  }
  const ReceivedEvent page = *LastTrigger(sc.pager, main_key);
  const nlohmann::json& details = page.body["payload"]["custom_details"];
  const std::string summary = page.body["payload"].value("summary", "");
  INFO(summary);
  INFO(details.dump());
  std::optional<absl::Time> first_page;
  for (const ReceivedEvent& ev : sc.pager.events()) {
    if (IsTrigger(ev) && (!first_page || ev.at < *first_page)) first_page = ev.at;
  }
  std::cout << "[figure] one role, 3 tables + 24 partitions: " << triggers_by_key.size()
            << " dedup keys, " << sc.pager.events().size() << " events, first page "
            << absl::ToDoubleSeconds(*first_page - t0) << " s after the script started, in "
            << absl::ToDoubleSeconds(script_end - t0) << " s of script; summary: " << summary
            << "\n";
  CHECK(details.value("culprit", "") == "cleanup_job");
  CHECK(absl::StrContains(summary, "role cleanup_job deleted"));
  CHECK(absl::StrContains(summary, "from 4 tables"));
  std::map<std::string, nlohmann::json> tables;
  for (const nlohmann::json& t : details["tables"]) tables[t.value("object", "")] = t;
  // Rows lost per table, within one sample (about 1,000 rows) of the truth.
  const int64_t per_table = static_cast<int64_t>(rounds) * batch;
  for (const std::string& t : kTables) {
    INFO("table " << t);
    REQUIRE(tables.count("public." + t) == 1);
    CHECK(sc.Count(t) == kRows - per_table);
    CHECK(std::abs(tables["public." + t].value("rows_lost", int64_t{0}) - per_table) <= 1200);
  }
  REQUIRE(tables.count("public.events") == 1);
  CHECK(std::abs(tables["public.events"].value("rows_lost", int64_t{0}) -
                 kPartitions * kPartitionRows / 5) <= kPartitions * kPartitionRows / 50);
  CHECK(sc.pager.violations().empty());
}

TEST_CASE("Incidents: two roles wiping two tables at once are two incidents, each naming its role",
          "[integration][incidents]") {
  Scenario sc(1000);
  REQUIRE(sc.pg->Psql(CreateTablesSql(), kShopDatabase).ok());
  sc.StartAgent(sc.Yaml());
  auto a = StartCleanupJob(*sc.pg, Batches({"carts"}, 10, 1000, 0.5));
  auto b = StartPsqlJob(*sc.pg, Batches({"audit_trail"}, 10, 1000, 0.5), "archiver", "archiver-pw",
                        "archive-job");
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  auto wa = WaitProcess(*a, absl::Seconds(30));
  auto wb = WaitProcess(*b, absl::Seconds(30));
  if (!wa.ok()) StopProcess(*a, absl::Seconds(2));
  if (!wb.ok()) StopProcess(*b, absl::Seconds(2));
  absl::SleepFor(absl::Seconds(3));
  INFO(sc.agent->Log());
  std::map<std::string, std::string> culprit_by_key;
  for (const ReceivedEvent& ev : sc.pager.events()) {
    if (!IsTrigger(ev)) continue;
    const std::string role = ev.body["payload"]["custom_details"].value("culprit", "");
    if (!role.empty()) culprit_by_key[ev.body.value("dedup_key", "")] = role;
  }
  CHECK(culprit_by_key["pgwarden/production/shop/public.carts"] == "cleanup_job");
  CHECK(culprit_by_key["pgwarden/production/shop/public.audit_trail"] == "archiver");
  CHECK(culprit_by_key.size() == 2);
  CHECK(sc.pager.violations().empty());
}

TEST_CASE("Incidents: the failed logins and rollbacks after a cleanup update its incident",
          "[integration][incidents]") {
  Scenario sc(20000);
  std::string yaml = sc.Yaml();
  const std::string tables = "    tables:\n";
  yaml.replace(yaml.find(tables), tables.size(),
               absl::StrCat("    server_log: ", sc.pg->log_path(), "\n", tables));
  ChurnWorkload churn(sc.pg->Dsn("shop", kAppRole, kAppPassword));
  churn.Start();
  sc.StartAgent(yaml);
  absl::SleepFor(absl::Seconds(12));  // past the rollback detector's warm-up
  REQUIRE(sc.pager.events().empty());

  auto job = StartCleanupJob(*sc.pg, CleanupScriptSql("customers", 8, 1000, absl::Seconds(0.3)));
  REQUIRE(job.ok());
  auto page = sc.pager.WaitFor(IsTriggerFor("public.customers"), absl::Seconds(15));
  auto exit = WaitProcess(*job, absl::Seconds(30));
  if (!exit.ok()) StopProcess(*job, absl::Seconds(2));
  INFO(sc.agent->Log());
  REQUIRE(page.has_value());
  const std::string key = page->body.value("dedup_key", "");

  // What follows: the application's logins fail and its transactions roll back.
  {
    FailedLogins guess1(sc.pg->Dsn("shop", "app", "wrong"), 0);
    FailedLogins guess2(sc.pg->Dsn("shop", "app", "wrong-too"), 0);
    RollbackStorm storm(sc.pg->Dsn("shop", kAppRole, kAppPassword),
                        "INSERT INTO orders (customer_id, amount) VALUES (1, 1)",
                        absl::Seconds(20));
    auto updated = sc.pager.WaitFor(
        [&](const nlohmann::json& b) {
          if (b.value("event_action", "") != "trigger" || b.value("dedup_key", "") != key) {
            return false;
          }
          const nlohmann::json& d = b["payload"]["custom_details"];
          return d.contains("aftermath") && d["aftermath"].contains("failed_logins") &&
                 d["aftermath"].contains("rollback_ratio");
        },
        absl::Seconds(30));
    storm.Stop();
    guess1.Stop();
    guess2.Stop();
    churn.Stop();
    INFO(sc.agent->Log());
    REQUIRE(updated.has_value());
    CHECK(absl::StrContains(updated->body["payload"].value("summary", ""), "followed by"));
  }
  // No other page: the storms joined the cleanup's incident.
  for (const ReceivedEvent& ev : sc.pager.events()) {
    INFO(ev.body.dump());
    if (IsTrigger(ev)) CHECK(ev.body.value("dedup_key", "") == key);
  }
  CHECK(sc.pager.violations().empty());
}

}  // namespace
}  // namespace pgwarden::testing
