// The PRODUCT.md scenarios of the first slice, end to end: real PostgreSQL
// 15, the real pgwarden binary, a real HTTP receiver checking the PagerDuty
// Events v2 schema.

#include <signal.h>

#include <atomic>
#include <iostream>
#include <pqxx/pqxx>
#include <thread>

#include "absl/strings/match.h"
#include "absl/time/clock.h"
#include "devtools/process.h"
#include "tests/integration/scenario.h"
#include "tests/integration/storms.h"

namespace pgwarden::testing {
namespace {

TEST_CASE("Scenario 1: the batched cleanup script is paged within 5 s, naming the table",
          "[integration][scenario]") {
  Scenario sc(200000);
  sc.StartAgent(sc.Yaml());
  const int64_t before = sc.Count("customers");
  const absl::Time start = absl::Now();
  auto job =
      StartCleanupJob(*sc.pg, CleanupScriptSql("customers", 200, 1000, absl::Milliseconds(200)));
  REQUIRE(job.ok());
  auto page = sc.pager.WaitFor(IsTriggerFor("customers"), absl::Seconds(15));
  const int64_t after = sc.Count("customers");
  StopProcess(*job, absl::Seconds(2));
  INFO(sc.agent->Log());
  REQUIRE(page.has_value());
  const double seconds = absl::ToDoubleSeconds(page->at - start);
  std::cout << "[figure] cleanup script: paged after " << seconds << " s; rows deleted by then "
            << (before - after) << " of " << before << "\n";
  CHECK(seconds <= 5.0);
  const nlohmann::json& ev = page->body;
  CHECK(ev["dedup_key"] == "pgwarden/production/shop/public.customers");
  CHECK(ev["payload"]["severity"] == "critical");
  CHECK(absl::StrContains(ev["payload"]["summary"].get<std::string>(), "public.customers"));
  CHECK(ev["payload"]["custom_details"].contains("row_loss"));
  CHECK(sc.pager.violations().empty());
  // The metrics show the table draining and the incident.
  const std::string m = sc.agent->Metrics();
  auto rows = MetricValue(m, "pgwarden_table_rows", {"table=\"customers\""});
  REQUIRE(rows.has_value());
  CHECK(*rows < before);
  CHECK(MetricSum(m, "pgwarden_incidents_total") >= 1);
  CHECK(MetricValue(m, "pgwarden_anomaly_score", {"signal=\"rows\"", "table=\"customers\""})
            .value_or(0) > 0.5);
}

TEST_CASE("Scenario 2: TRUNCATE and DROP TABLE page at the next sample",
          "[integration][scenario]") {
  Scenario sc(20000);
  REQUIRE(sc.pg
              ->Psql("SET ROLE shop_owner; CREATE TABLE audit_log AS SELECT g AS id FROM "
                     "generate_series(1, 5000) g; CREATE TABLE coupons AS SELECT g AS id FROM "
                     "generate_series(1, 3000) g; ANALYZE audit_log; ANALYZE coupons;",
                     "shop")
              .ok());
  sc.StartAgent(sc.Yaml());
  absl::Time t0 = absl::Now();
  REQUIRE(sc.pg->Psql("TRUNCATE audit_log", "shop").ok());
  auto truncated = sc.pager.WaitFor(IsTriggerFor("audit_log"), absl::Seconds(10));
  INFO(sc.agent->Log());
  REQUIRE(truncated.has_value());
  std::cout << "[figure] TRUNCATE paged after " << absl::ToDoubleSeconds(truncated->at - t0)
            << " s\n";
  CHECK(truncated->at - t0 <= absl::Seconds(3));
  CHECK(absl::StrContains(truncated->body["payload"]["summary"].get<std::string>(), "truncated"));
  t0 = absl::Now();
  REQUIRE(sc.pg->Psql("DROP TABLE coupons", "shop").ok());
  auto dropped = sc.pager.WaitFor(IsTriggerFor("coupons"), absl::Seconds(10));
  REQUIRE(dropped.has_value());
  std::cout << "[figure] DROP TABLE paged after " << absl::ToDoubleSeconds(dropped->at - t0)
            << " s\n";
  CHECK(dropped->at - t0 <= absl::Seconds(3));
  CHECK(absl::StrContains(dropped->body["payload"]["summary"].get<std::string>(), "dropped"));
  CHECK(dropped->body["payload"]["custom_details"]["drop_table"]["rows_before"] == 3000);
  // The dropped table's series are gone from /metrics.
  CHECK(WaitUntil(
      [&] {
        return !MetricValue(sc.agent->Metrics(), "pgwarden_table_rows", {"table=\"coupons\""});
      },
      absl::Seconds(5)));
  CHECK(sc.pager.violations().empty());
}

TEST_CASE(
    "Scenario 4: a failed-login storm and a rollback-ratio jump page, background rates "
    "do not",
    "[integration][scenario]") {
  Scenario sc(20000);
  std::string yaml = sc.Yaml();
  const std::string tables = "    tables:\n";
  yaml.replace(yaml.find(tables), tables.size(),
               absl::StrCat("    server_log: ", sc.pg->log_path(), "\n", tables));
  ChurnWorkload churn(sc.pg->Dsn("shop", kAppRole, kAppPassword));  // ~3% of it rolls back
  churn.Start();
  // A monitor with a stale password, failing about once a second.
  FailedLogins background(sc.pg->Dsn("shop", kAppRole, "stale-password"), 1.0);
  sc.StartAgent(yaml);
  absl::SleepFor(absl::Seconds(15));  // past the rollback detector's warm-up
  INFO(sc.agent->Log());
  CHECK(sc.pager.events().empty());
  CHECK(background.attempts() >= 10);
  CHECK(MetricValue(sc.agent->Metrics(), "pgwarden_failed_logins_total", {"reason=\"password\""})
            .value_or(0) >= 10);

  // Password guessing against "root", as fast as two clients go.
  absl::Time t0 = absl::Now();
  {
    FailedLogins guess1(sc.pg->Dsn("shop", "root", "123456"), 0);
    FailedLogins guess2(sc.pg->Dsn("shop", "root", "letmein"), 0);
    auto page = sc.pager.WaitFor(IsTriggerFor("failed logins"), absl::Seconds(15));
    guess1.Stop();
    guess2.Stop();
    REQUIRE(page.has_value());
    std::cout << "[figure] failed-login storm (" << guess1.attempts() + guess2.attempts()
              << " attempts) paged after " << absl::ToDoubleSeconds(page->at - t0) << " s\n";
    CHECK(absl::StrContains(page->body["payload"]["summary"].get<std::string>(), "root"));
    CHECK(page->body["payload"]["custom_details"]["failed_logins"]["top_users"].contains("root"));
  }

  // A bad deploy: most transactions now fail and roll back.
  t0 = absl::Now();
  std::atomic<bool> stop{false};
  std::thread deploy([&] {
    pqxx::connection c(sc.pg->Dsn("shop", kAppRole, kAppPassword));
    const absl::Time end = absl::Now() + absl::Seconds(20);
    while (!stop && absl::Now() < end) {
      pqxx::work tx(c);
      tx.exec("INSERT INTO orders (customer_id, amount) VALUES (1, 1)");
      tx.abort();
    }
  });
  auto page = sc.pager.WaitFor(IsTriggerFor("rollback ratio"), absl::Seconds(15));
  stop = true;
  deploy.join();
  background.Stop();
  churn.Stop();
  REQUIRE(page.has_value());
  std::cout << "[figure] rollback-ratio jump paged after " << absl::ToDoubleSeconds(page->at - t0)
            << " s\n";
  CHECK(sc.pager.violations().empty());
  // Nothing else paged: no table lost rows.
  for (const ReceivedEvent& ev : sc.pager.events()) {
    const std::string summary = ev.body["payload"].value("summary", "");
    CHECK((absl::StrContains(summary, "failed logins") ||
           absl::StrContains(summary, "rollback ratio")));
  }
}

TEST_CASE("Scenario 5 (short): 60 s of normal churn pages nothing", "[integration][scenario]") {
  Scenario sc(200000);
  sc.StartAgent(sc.Yaml());
  ChurnWorkload churn(sc.pg->Dsn("shop", kAppRole, kAppPassword));
  churn.Start();
  const absl::Time end = absl::Now() + absl::Seconds(60);
  int analyzes = 0;
  while (absl::Now() < end) {
    absl::SleepFor(absl::Seconds(10));
    // Vacuum and analyze re-estimate n_live_tup: not a loss.
    REQUIRE(sc.pg->Psql(analyzes++ % 2 ? "ANALYZE customers" : "VACUUM customers", "shop").ok());
  }
  churn.Stop();
  INFO(sc.agent->Log());
  CHECK(churn.transactions() > 500);
  CHECK(sc.pager.events().empty());
  CHECK(sc.pager.violations().empty());
  const std::string m = sc.agent->Metrics();
  CHECK(MetricValue(m, "pgwarden_database_xact_rollback_total").value_or(0) > 0);
  CHECK(MetricValue(m, "pgwarden_table_rows_deleted_total", {"table=\"orders\""}).value_or(0) > 0);
}

TEST_CASE(
    "Scenario 5 (maintenance): a purge inside a declared window pages nothing, the same "
    "purge outside it pages",
    "[integration][scenario]") {
  Scenario sc(100000);
  // A window open now (started a minute ago, for an hour) on public.orders.
  const std::string start =
      absl::FormatTime("%H:%M", absl::Now() - absl::Minutes(1), absl::UTCTimeZone());
  sc.StartAgent(sc.Yaml("off", absl::StrCat("maintenance:\n  windows:\n    - name: nightly-purge\n"
                                            "      start: \"",
                                            start,
                                            "\"\n      duration: 1h\n"
                                            "      tables: [\"public.orders\"]\n")));
  const int64_t orders = sc.Count("orders");
  auto purge =
      StartCleanupJob(*sc.pg, CleanupScriptSql("orders", 15, 1000, absl::Milliseconds(200)));
  REQUIRE(purge.ok());
  absl::StatusOr<int> purge_exit = WaitProcess(*purge, absl::Seconds(30));
  if (!purge_exit.ok()) StopProcess(*purge, absl::Seconds(2));
  REQUIRE(purge_exit.ok());
  REQUIRE(sc.Count("orders") == orders - 15000);
  absl::SleepFor(absl::Seconds(3));
  INFO(sc.agent->Log());
  CHECK(sc.pager.events().empty());
  CHECK(MetricValue(sc.agent->Metrics(), "pgwarden_signals_suppressed_total",
                    {"reason=\"maintenance\""})
            .value_or(0) >= 1);
  CHECK(absl::StrContains(sc.agent->Log(), "maintenance window nightly-purge"));
  // The same purge on a table outside the window pages.
  auto outside =
      StartCleanupJob(*sc.pg, CleanupScriptSql("customers", 15, 1000, absl::Milliseconds(200)));
  REQUIRE(outside.ok());
  auto page = sc.pager.WaitFor(IsTriggerFor("public.customers"), absl::Seconds(15));
  StopProcess(*outside, absl::Seconds(2));
  CHECK(page.has_value());
}

TEST_CASE("Scenario 6: PostgreSQL stops, pgwarden_up goes to 0, the agent recovers by itself",
          "[integration][scenario]") {
  Scenario sc(1000);
  sc.StartAgent(sc.Yaml());
  REQUIRE(sc.pg->Stop().ok());
  CHECK(WaitUntil(
      [&] { return MetricValue(sc.agent->Metrics(), "pgwarden_up", {"target=\"shop\""}) == 0.0; },
      absl::Seconds(10)));
  // Still running, still serving, health unaffected by the database.
  absl::SleepFor(absl::Seconds(3));
  CHECK(::kill(sc.agent->pid(), 0) == 0);
  CHECK_FALSE(sc.agent->Metrics().empty());
  CHECK(MetricValue(sc.agent->Metrics(), "pgwarden_sample_errors_total", {"reason=\"connect\""})
            .value_or(0) >= 1);
  REQUIRE(sc.pg->Resume().ok());
  INFO(sc.agent->Log());
  CHECK(WaitUntil(
      [&] { return MetricValue(sc.agent->Metrics(), "pgwarden_up", {"target=\"shop\""}) == 1.0; },
      absl::Seconds(30)));
  // A restart is not an incident.
  absl::SleepFor(absl::Seconds(3));
  CHECK(sc.pager.events().empty());
}

}  // namespace
}  // namespace pgwarden::testing
