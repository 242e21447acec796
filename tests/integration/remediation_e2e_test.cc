// Remediation end to end: real PostgreSQL 15, the real pgwarden binary in
// enforce or dry-run mode, the cleanup script run by psql, a real HTTP
// receiver checking the PagerDuty Events v2 schema, and `pgwarden undo`.

#include <filesystem>
#include <fstream>
#include <iostream>
#include <pqxx/pqxx>

#include "absl/strings/match.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "devtools/process.h"
#include "tests/integration/remediation_audit.h"
#include "tests/integration/scenario.h"

namespace pgwarden::testing {
namespace {

constexpr char kEnforceActions[] = "  actions: [nologin, revoke_writes, terminate]\n";

// CustomersAcl is the exact ACL of public.customers.
std::string CustomersAcl(pqxx::connection& su) {
  pqxx::nontransaction tx(su);
  return tx.exec1("SELECT relacl::text FROM pg_class WHERE oid = 'public.customers'::regclass")[0]
      .as<std::string>();
}

TEST_CASE(
    "Enforce: the cleanup script on 1,000,000 rows is stopped - no login, no sessions, "
    "no DELETE, under 5% lost - and undo restores",
    "[integration][remediation_e2e]") {
  Scenario sc(1000000);
  pqxx::connection su(sc.pg->Dsn("shop", "postgres"));
  const std::string acl_before = CustomersAcl(su);
  sc.StartAgent(sc.Yaml("enforce", kEnforceActions));
  const int64_t before = sc.Count("customers");
  const absl::Time start = absl::Now();
  auto job =
      StartCleanupJob(*sc.pg, CleanupScriptSql("customers", 1000, 1000, absl::Milliseconds(200)));
  REQUIRE(job.ok());
  auto page = sc.pager.WaitFor(IsTriggerFor("customers"), absl::Seconds(15));
  absl::Time contained_at;
  const bool contained = WaitUntil(
      [&] {
        if (!Contained(ReadRole(su, kCleanupRole))) return false;
        contained_at = absl::Now();
        return true;
      },
      absl::Seconds(20));
  absl::StatusOr<int> job_exit = WaitProcess(*job, absl::Seconds(10));
  if (!job_exit.ok()) StopProcess(*job, absl::Seconds(2));
  const int64_t after = sc.Count("customers");
  INFO(sc.agent->Log());
  REQUIRE(page.has_value());
  REQUIRE(contained);
  const double lost_share = static_cast<double>(before - after) / static_cast<double>(before);
  std::cout << "[figure] enforce: paged after " << absl::ToDoubleSeconds(page->at - start)
            << " s; contained after " << absl::ToDoubleSeconds(contained_at - start)
            << " s; rows lost " << (before - after) << " of " << before << "\n";
  CHECK(lost_share < 0.05);
  // The psql script ended because its session was terminated.
  REQUIRE(job_exit.ok());
  CHECK(*job_exit != 0);
  CHECK(sc.pager.violations().empty());
  // The first page already names the role; a later one says what was done.
  const std::string first_summary = page->body["payload"]["summary"].get<std::string>();
  CHECK(absl::StrContains(first_summary,
                          "by role cleanup_job (nightly-cleanup) from 127.0.0.1, pids "));
  CHECK(absl::StrContains(first_summary, "confidence 1.00"));
  auto done_page = sc.pager.WaitFor(
      [](const nlohmann::json& ev) {
        return ev.value("event_action", "") == "trigger" &&
               absl::StrContains(ev["payload"].value("summary", ""), "pgwarden undo");
      },
      absl::Seconds(20));  // an update: at most one per incident per 10 s
  REQUIRE(done_page.has_value());
  // The incident is the culprit's; the first page's attribution (taken
  // while the script ran) names its application.
  CHECK(done_page->body["payload"]["custom_details"].value("culprit", "") == "cleanup_job");
  const nlohmann::json& attribution =
      page->body["payload"]["custom_details"]["row_loss"]["attribution"];
  INFO(done_page->body.dump(2));
  CHECK(attribution["culprits"][0]["role"] == "cleanup_job");
  CHECK(attribution["culprits"][0]["application"] == "nightly-cleanup");
  CHECK(attribution["confidence"].get<double>() >= 0.5);

  // Audit: the three actions done, each with the SQL that undoes it.
  const std::string audit_path = sc.pg->dir() + "/state/audit.log";
  std::vector<nlohmann::json> done = Records(AuditRecords(audit_path), kCleanupRole, "done");
  CHECK(HasAction(done, "nologin"));
  CHECK(HasAction(done, "revoke_writes"));
  CHECK(HasAction(done, "terminate"));
  for (const nlohmann::json& r : done) {
    CHECK(absl::StrContains(r["sql"].get<std::string>(), "cleanup_job"));
    if (r["action"] != "terminate") CHECK_FALSE(r["undo_sql"].get<std::string>().empty());
  }

  // `pgwarden undo ID --config FILE` puts login and grants back exactly, while
  // the agent keeps running (and does not act again).
  for (const nlohmann::json& r : done) {
    if (r["action"] == "terminate") continue;
    ProcessOptions undo;
    undo.argv = {PGWARDEN_BINARY, "undo", std::to_string(r["id"].get<int64_t>()), "--config",
                 sc.pg->dir() + "/pgwarden.yaml"};
    std::string output;
    absl::StatusOr<int> code = RunCommand(undo, absl::Seconds(30), &output);
    INFO(output);
    REQUIRE(code.ok());
    CHECK(*code == 0);
  }
  absl::SleepFor(absl::Seconds(2));
  const RoleState restored = ReadRole(su, kCleanupRole);
  CHECK(restored.can_login);
  CHECK(restored.can_delete);
  CHECK(CustomersAcl(su) == acl_before);
  std::vector<nlohmann::json> undone = Records(AuditRecords(audit_path), kCleanupRole, "done");
  CHECK(HasAction(undone, "undo"));
}

TEST_CASE("Dry-run: the same script changes nothing, and the page says what it would run",
          "[integration][remediation_e2e]") {
  Scenario sc(200000);
  pqxx::connection su(sc.pg->Dsn("shop", "postgres"));
  const std::string acl_before = CustomersAcl(su);
  sc.StartAgent(sc.Yaml("dry-run", kEnforceActions));
  const int64_t before = sc.Count("customers");
  auto job =
      StartCleanupJob(*sc.pg, CleanupScriptSql("customers", 40, 1000, absl::Milliseconds(200)));
  REQUIRE(job.ok());
  auto page = sc.pager.WaitFor(
      [](const nlohmann::json& ev) {
        return ev.value("event_action", "") == "trigger" &&
               absl::StrContains(ev["payload"].value("summary", ""), "would run nologin");
      },
      absl::Seconds(20));
  absl::StatusOr<int> job_exit = WaitProcess(*job, absl::Seconds(40));
  if (!job_exit.ok()) StopProcess(*job, absl::Seconds(2));
  INFO(sc.agent->Log());
  REQUIRE(page.has_value());
  CHECK(absl::StrContains(page->body["payload"]["summary"].get<std::string>(), "cleanup_job"));
  // The script ran to its end: every batch deleted, login and grants intact.
  REQUIRE(job_exit.ok());
  CHECK(*job_exit == 0);
  CHECK(sc.Count("customers") == before - 40000);
  const RoleState s = ReadRole(su, kCleanupRole);
  CHECK(s.can_login);
  CHECK(s.can_delete);
  CHECK(CustomersAcl(su) == acl_before);
  std::vector<nlohmann::json> all = AuditRecords(sc.pg->dir() + "/state/audit.log");
  std::vector<nlohmann::json> dry = Records(all, kCleanupRole, "dry_run");
  CHECK(HasAction(dry, "nologin"));
  CHECK(HasAction(dry, "revoke_writes"));
  CHECK(HasAction(dry, "terminate"));
  for (const nlohmann::json& r : dry) CHECK_FALSE(r["sql"].get<std::string>().empty());
  CHECK(Records(all, kCleanupRole, "done").empty());
}

TEST_CASE("Enforce: a superuser and a protected role deleting in batches are paged, never touched",
          "[integration][remediation_e2e]") {
  Scenario sc(100000);
  REQUIRE(sc.pg
              ->Psql("CREATE ROLE etl LOGIN PASSWORD 'etl-pw'; "
                     "CREATE ROLE dba LOGIN SUPERUSER PASSWORD 'dba-pw'; "
                     "GRANT SELECT, DELETE ON customers, orders TO etl;",
                     "shop")
              .ok());
  pqxx::connection su(sc.pg->Dsn("shop", "postgres"));
  sc.StartAgent(sc.Yaml(
      "enforce", absl::StrCat(kEnforceActions, "  protected_roles: [postgres, pgwarden, etl]\n")));
  const int64_t customers = sc.Count("customers");
  const int64_t orders = sc.Count("orders");
  auto etl = StartPsqlJob(*sc.pg, CleanupScriptSql("customers", 25, 1000, absl::Milliseconds(200)),
                          "etl", "etl-pw", "etl-purge");
  auto root = StartPsqlJob(*sc.pg, CleanupScriptSql("orders", 20, 1000, absl::Milliseconds(200)),
                           "dba", "dba-pw", "dba-console");
  REQUIRE(etl.ok());
  REQUIRE(root.ok());
  auto etl_page = sc.pager.WaitFor(IsTriggerFor("public.customers"), absl::Seconds(20));
  auto root_page = sc.pager.WaitFor(IsTriggerFor("public.orders"), absl::Seconds(20));
  absl::StatusOr<int> etl_exit = WaitProcess(*etl, absl::Seconds(40));
  if (!etl_exit.ok()) StopProcess(*etl, absl::Seconds(2));
  absl::StatusOr<int> root_exit = WaitProcess(*root, absl::Seconds(40));
  if (!root_exit.ok()) StopProcess(*root, absl::Seconds(2));
  INFO(sc.agent->Log());
  REQUIRE(etl_page.has_value());
  REQUIRE(root_page.has_value());
  // Both scripts ran to their end untouched.
  REQUIRE(etl_exit.ok());
  CHECK(*etl_exit == 0);
  REQUIRE(root_exit.ok());
  CHECK(*root_exit == 0);
  CHECK(sc.Count("customers") == customers - 25000);
  CHECK(sc.Count("orders") == orders - 20000);
  CHECK(ReadRole(su, "etl").can_login);
  CHECK(ReadRole(su, "etl").can_delete);
  // Every refusal is audited with its reason; nothing was done.
  std::vector<nlohmann::json> all = AuditRecords(sc.pg->dir() + "/state/audit.log");
  std::vector<nlohmann::json> etl_refused = Records(all, "etl", "refused");
  std::vector<nlohmann::json> root_refused = Records(all, "dba", "refused");
  REQUIRE_FALSE(etl_refused.empty());
  REQUIRE_FALSE(root_refused.empty());
  CHECK(absl::StrContains(etl_refused[0]["reason"].get<std::string>(), "protected"));
  CHECK(absl::StrContains(root_refused[0]["reason"].get<std::string>(), "superuser"));
  for (const nlohmann::json& r : all) CHECK(r["result"] != "done");
}

TEST_CASE(
    "Two agents on one database and a hostile role name: exactly one agent acts, "
    "the name stays a name",
    "[integration][remediation_e2e]") {
  const std::string hostile = "x\"; DROP TABLE customers; --";
  Scenario sc(200000);
  pqxx::connection su(sc.pg->Dsn("shop", "postgres"));
  {
    pqxx::nontransaction tx(su);
    tx.exec(absl::StrCat("CREATE ROLE ", tx.quote_name(hostile), " LOGIN PASSWORD 'h-pw'"));
    tx.exec(absl::StrCat("GRANT SELECT, DELETE ON customers TO ", tx.quote_name(hostile)));
  }
  // Two agents, each with its own config and state directory.
  std::vector<std::unique_ptr<AgentProcess>> agents;
  std::vector<std::string> dirs;
  for (int i = 1; i <= 2; ++i) {
    const std::string dir = absl::StrCat(sc.pg->dir(), "/agent", i);
    std::filesystem::create_directories(dir);
    std::string yaml = sc.Yaml("enforce", kEnforceActions);
    const std::string state = absl::StrCat("state_dir: ", sc.pg->dir(), "/state\n");
    yaml.replace(yaml.find(state), state.size(), absl::StrCat("state_dir: ", dir, "/state\n"));
    auto a = AgentProcess::Start(dir, yaml);
    INFO(a.status().message());
    REQUIRE(a.ok());
    agents.push_back(std::move(*a));
    dirs.push_back(dir);
  }
  for (auto& a : agents) {
    REQUIRE(WaitUntil(
        [&] { return MetricValue(a->Metrics(), "pgwarden_up", {"target=\"shop\""}) == 1.0; },
        absl::Seconds(20)));
  }
  absl::SleepFor(absl::Seconds(3));
  const int64_t before = sc.Count("customers");
  auto job = StartPsqlJob(*sc.pg, CleanupScriptSql("customers", 200, 1000, absl::Milliseconds(200)),
                          hostile, "h-pw", "cleanup");
  REQUIRE(job.ok());
  const bool contained =
      WaitUntil([&] { return Contained(ReadRole(su, hostile)); }, absl::Seconds(25));
  absl::StatusOr<int> job_exit = WaitProcess(*job, absl::Seconds(10));
  if (!job_exit.ok()) StopProcess(*job, absl::Seconds(2));
  INFO(agents[0]->Log());
  INFO(agents[1]->Log());
  REQUIRE(contained);
  CHECK(sc.Count("customers") > before * 95 / 100);  // the table is still there
  absl::SleepFor(absl::Seconds(3));                  // let the other agent try too
  int acting = 0;
  int deferring = 0;
  for (const std::string& dir : dirs) {
    std::vector<nlohmann::json> all = AuditRecords(dir + "/state/audit.log");
    std::vector<nlohmann::json> done = Records(all, hostile, "done");
    if (!done.empty()) {
      ++acting;
      CHECK(HasAction(done, "nologin"));
      for (const nlohmann::json& r : done) {
        // The name went into the SQL quoted as one identifier.
        if (r["action"] == "nologin") {
          CHECK(absl::StrContains(r["sql"].get<std::string>(),
                                  "\"x\"\"; DROP TABLE customers; --\""));
        }
      }
    }
    for (const nlohmann::json& r : Records(all, hostile, "refused")) {
      if (absl::StrContains(r["reason"].get<std::string>(), "another agent")) {
        ++deferring;
        break;
      }
    }
  }
  CHECK(acting == 1);
  CHECK(deferring == 1);
}

TEST_CASE("Enforce: a huge uncommitted DELETE is paged while it runs and cancelled, no row lost",
          "[integration][remediation_e2e]") {
  Scenario sc(200000);
  sc.StartAgent(sc.Yaml("enforce", kEnforceActions));
  const int64_t before = sc.Count("customers");
  auto job = StartCleanupJob(
      *sc.pg,
      "\\set ON_ERROR_STOP 1\nBEGIN;\nDELETE FROM customers;\nSELECT pg_sleep(60);\n"
      "COMMIT;\n");
  REQUIRE(job.ok());
  // Caught while the DELETE still runs (the fast tick's session guard) or
  // once it has finished inside the open transaction.
  auto page = sc.pager.WaitFor(
      [](const nlohmann::json& ev) {
        const std::string s = ev["payload"].value("summary", "");
        return ev.value("event_action", "") == "trigger" &&
               (absl::StrContains(s, "uncommitted DELETE or UPDATE of 200000 of 200000") ||
                absl::StrContains(s, "DELETE without WHERE on public.customers in flight"));
      },
      absl::Seconds(15));
  absl::StatusOr<int> job_exit = WaitProcess(*job, absl::Seconds(15));
  if (!job_exit.ok()) StopProcess(*job, absl::Seconds(2));
  INFO(sc.agent->Log());
  REQUIRE(page.has_value());
  CHECK(absl::StrContains(page->body["payload"]["summary"].get<std::string>(), "cleanup_job"));
  REQUIRE(job_exit.ok());
  CHECK(*job_exit != 0);
  CHECK(sc.Count("customers") == before);
  std::vector<nlohmann::json> all = AuditRecords(sc.pg->dir() + "/state/audit.log");
  CHECK(HasAction(Records(all, kCleanupRole, "done"), "cancel"));
  // The rolled-back DELETE raised n_tup_del by 200,000 but lost no row: no
  // row-loss or delete-spike page follows.
  absl::SleepFor(absl::Seconds(4));
  for (const ReceivedEvent& ev : sc.pager.events()) {
    const nlohmann::json details = ev.body["payload"].value("custom_details", nlohmann::json());
    CHECK_FALSE(details.contains("row_loss"));
    CHECK_FALSE(details.contains("delete_spike"));
  }
}

TEST_CASE("Enforce: runaway sessions - idle in transaction and blocking - are paged and ended",
          "[integration][remediation_e2e]") {
  Scenario sc(20000);
  sc.StartAgent(sc.Yaml("enforce", absl::StrCat(kEnforceActions,
                                                "  runaway:\n    enabled: true\n"
                                                "    idle_in_transaction: 3s\n"
                                                "    statement: 1h\n    blocking: 3s\n")));
  pqxx::connection su(sc.pg->Dsn("shop", "postgres"));
  // The app opens a transaction, locks a row, and forgets about it; another
  // session queues behind the lock.
  pqxx::connection forgetful(sc.pg->Dsn("shop", kAppRole, kAppPassword));
  pqxx::work open_tx(forgetful);
  open_tx.exec("UPDATE customers SET name = 'held' WHERE id = 1");
  const int forgetful_pid = forgetful.backendpid();
  const absl::Time t0 = absl::Now();
  auto waiter = StartPsqlJob(*sc.pg, "UPDATE customers SET name = 'waiting' WHERE id = 1;\n",
                             kAppRole, kAppPassword, "waiter");
  REQUIRE(waiter.ok());
  auto page = sc.pager.WaitFor(
      [](const nlohmann::json& ev) {
        const std::string s = ev["payload"].value("summary", "");
        return ev.value("event_action", "") == "trigger" &&
               (absl::StrContains(s, "idle in transaction") || absl::StrContains(s, "blocking"));
      },
      absl::Seconds(20));
  // The waiter gets its lock once the forgetful session is gone.
  absl::StatusOr<int> waiter_exit = WaitProcess(*waiter, absl::Seconds(20));
  if (!waiter_exit.ok()) StopProcess(*waiter, absl::Seconds(2));
  INFO(sc.agent->Log());
  REQUIRE(page.has_value());
  CHECK(absl::StrContains(page->body["payload"]["summary"].get<std::string>(), "app"));
  REQUIRE(waiter_exit.ok());
  CHECK(*waiter_exit == 0);
  std::cout << "[figure] runaway session ended after " << absl::ToDoubleSeconds(absl::Now() - t0)
            << " s\n";
  {
    pqxx::nontransaction tx(su);
    CHECK(tx.exec_params1("SELECT count(*) FROM pg_stat_activity WHERE pid = $1", forgetful_pid)[0]
              .as<int64_t>() == 0);
    // Its uncommitted change rolled back; the waiter's committed.
    CHECK(tx.exec1("SELECT name FROM customers WHERE id = 1")[0].as<std::string>() == "waiting");
  }
  CHECK_THROWS(open_tx.commit());
  // Audited: the session was acted on for role app, with the SQL it ran.
  std::vector<nlohmann::json> done =
      Records(AuditRecords(sc.pg->dir() + "/state/audit.log"), kAppRole, "done");
  REQUIRE_FALSE(done.empty());
  CHECK(absl::StrContains(done[0]["sql"].get<std::string>(), std::to_string(forgetful_pid)));
  // The role itself keeps its login: runaway policy ends sessions, not roles.
  CHECK(ReadRole(su, kAppRole).can_login);
}

TEST_CASE("Enforce: a DELETE without WHERE in its table's maintenance window is not cancelled",
          "[integration][remediation_e2e]") {
  Scenario sc(20000);
  const std::string start =
      absl::FormatTime("%H:%M", absl::Now() - absl::Minutes(1), absl::UTCTimeZone());
  sc.StartAgent(sc.Yaml(
      "enforce", absl::StrCat(kEnforceActions, "maintenance:\n  windows:\n    - name: purge\n",
                              "      start: \"", start, "\"\n      duration: 1h\n",
                              "      tables: [\"public.customers\"]\n")));
  // Held in flight for 4 s (several guard ticks), then rolled back: a
  // cancel would make psql exit non-zero.
  auto job = StartCleanupJob(
      *sc.pg,
      "\\set ON_ERROR_STOP 1\nBEGIN;\nDELETE FROM customers;\nSELECT pg_sleep(4);\nROLLBACK;\n");
  REQUIRE(job.ok());
  absl::StatusOr<int> job_exit = WaitProcess(*job, absl::Seconds(20));
  if (!job_exit.ok()) StopProcess(*job, absl::Seconds(2));
  absl::SleepFor(absl::Seconds(2));
  INFO(sc.agent->Log());
  REQUIRE(job_exit.ok());
  CHECK(*job_exit == 0);
  CHECK(sc.pager.events().empty());
  CHECK(Records(AuditRecords(sc.pg->dir() + "/state/audit.log"), kCleanupRole, "done").empty());
  CHECK(MetricValue(sc.agent->Metrics(), "pgwarden_signals_suppressed_total",
                    {"reason=\"maintenance\""})
            .value_or(0) >= 1);
}

}  // namespace
}  // namespace pgwarden::testing
