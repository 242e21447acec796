// Partitions roll up to their partitioned table (real PostgreSQL 15): one
// DELETE of a fifth of a table partitioned into 24 partitions is one page
// naming the partitioned table, never a partition as a page of its own,
// with each partition's figures in the details; dropping a partition and
// detaching one are paged under the partitioned table as what they are.

#include <iostream>
#include <set>

#include "absl/strings/match.h"
#include "absl/time/clock.h"
#include "devtools/process.h"
#include "tests/integration/scenario.h"

namespace pgwarden::testing {
namespace {

constexpr int kPartitions = 24;
constexpr int kRowsEach = 10000;

std::string CreateEvents() {
  std::string sql =
      "CREATE TABLE events (id bigint NOT NULL, payload text) PARTITION BY RANGE (id);";
  for (int i = 0; i < kPartitions; ++i) {
    absl::StrAppend(&sql, "CREATE TABLE events_p", i, " PARTITION OF events FOR VALUES FROM (",
                    i * kRowsEach + 1, ") TO (", (i + 1) * kRowsEach + 1, ");");
  }
  absl::StrAppend(&sql, "INSERT INTO events SELECT g, 'e' FROM generate_series(1, ",
                  kPartitions * kRowsEach, ") g;",
                  "GRANT SELECT, DELETE ON ALL TABLES IN SCHEMA public TO cleanup_job;",
                  "GRANT SELECT ON ALL TABLES IN SCHEMA public TO pgwarden;");
  return sql;
}

bool IsTrigger(const ReceivedEvent& ev) { return ev.body.value("event_action", "") == "trigger"; }

std::string Summary(const ReceivedEvent& ev) { return ev.body["payload"].value("summary", ""); }

TEST_CASE(
    "Partitions: a fifth of 24 partitions deleted in one statement is one page for the "
    "partitioned table",
    "[integration][partitions]") {
  Scenario sc(20000);
  auto made = sc.pg->Psql(CreateEvents(), kShopDatabase);
  INFO(made.status().message());
  REQUIRE(made.ok());
  sc.StartAgent(sc.Yaml());
  absl::SleepFor(absl::Seconds(2));
  REQUIRE(sc.pager.events().empty());

  const absl::Time t0 = absl::Now();
  auto job = StartCleanupJob(*sc.pg, "DELETE FROM events WHERE id % 5 = 0;\n");
  REQUIRE(job.ok());
  auto page = sc.pager.WaitFor(IsTriggerFor("partitioned table public.events"), absl::Seconds(15));
  absl::StatusOr<int> exit = WaitProcess(*job, absl::Seconds(30));
  if (!exit.ok()) StopProcess(*job, absl::Seconds(2));
  INFO(sc.agent->Log());
  REQUIRE(page.has_value());
  std::cout << "[figure] DELETE of a fifth of 24 partitions paged after "
            << absl::ToDoubleSeconds(page->at - t0) << " s\n";
  absl::SleepFor(absl::Seconds(4));  // more samples: no page per partition

  std::set<std::string> keys;
  for (const ReceivedEvent& ev : sc.pager.events()) {
    INFO(ev.body.dump());
    if (!IsTrigger(ev)) continue;
    keys.insert(ev.body.value("dedup_key", ""));
    CHECK(absl::StrContains(Summary(ev), "partitioned table public.events"));
  }
  CHECK(keys == std::set<std::string>{"pgwarden/production/shop/public.events"});
  const nlohmann::json& partitions = page->body["payload"]["custom_details"]["partitions"];
  INFO(partitions.dump());
  CHECK(partitions.size() >= static_cast<size_t>(kPartitions / 2));  // one sample's worth at least
  CHECK(partitions.contains("public.events_p0"));

  // Dropping a partition and detaching one: paged under the partitioned
  // table, as what they are (updates of its incident: at most one per 10 s).
  REQUIRE(sc.pg->Psql("DROP TABLE events_p23", kShopDatabase).ok());
  auto dropped = sc.pager.WaitFor(
      [](const nlohmann::json& ev) {
        return ev.value("event_action", "") == "trigger" &&
               ev.contains(nlohmann::json::json_pointer(
                   "/payload/custom_details/partitions/public.events_p23/drop_table")) &&
               ev.value("dedup_key", "") == "pgwarden/production/shop/public.events";
      },
      absl::Seconds(25));
  CHECK(dropped.has_value());
  REQUIRE(sc.pg->Psql("ALTER TABLE events DETACH PARTITION events_p22", kShopDatabase).ok());
  auto detached = sc.pager.WaitFor(
      [](const nlohmann::json& ev) {
        return ev.value("event_action", "") == "trigger" &&
               ev.value(
                   nlohmann::json::json_pointer("/payload/custom_details/destructive_ddl/change"),
                   std::string()) == "detach_partition" &&
               ev.value("dedup_key", "") == "pgwarden/production/shop/public.events";
      },
      absl::Seconds(25));
  CHECK(detached.has_value());

  // In flight: a DELETE without WHERE on the partitioned table is seen by the
  // session guard (the partitioned table is watched through its partitions).
  auto held =
      StartCleanupJob(*sc.pg, "BEGIN;\nDELETE FROM events;\nSELECT pg_sleep(8);\nROLLBACK;\n");
  REQUIRE(held.ok());
  auto in_flight = sc.pager.WaitFor(
      [](const nlohmann::json& ev) {
        return ev.value("event_action", "") == "trigger" &&
               ev["payload"]["custom_details"].contains("destructive_in_flight") &&
               ev.value("dedup_key", "") == "pgwarden/production/shop/public.events";
      },
      absl::Seconds(25));
  StopProcess(*held, absl::Seconds(2));
  INFO(sc.agent->Log());
  CHECK(in_flight.has_value());
  CHECK(sc.pager.violations().empty());
}

TEST_CASE("Partitions: 100 partitions rotated by a declared maintenance window page nothing",
          "[integration][partitions]") {
  Scenario sc(1000);
  constexpr int kDays = 100;
  std::string sql = "CREATE TABLE metrics (day int NOT NULL, v text) PARTITION BY RANGE (day);";
  for (int d = 0; d < kDays; ++d) {
    absl::StrAppend(&sql, "CREATE TABLE metrics_d", d, " PARTITION OF metrics FOR VALUES FROM (", d,
                    ") TO (", d + 1, ");");
  }
  absl::StrAppend(&sql, "INSERT INTO metrics SELECT g % ", kDays, ", 'm' FROM generate_series(1, ",
                  kDays * 1500, ") g; ANALYZE metrics;",
                  "GRANT SELECT ON ALL TABLES IN SCHEMA public TO pgwarden;");
  REQUIRE(sc.pg->Psql(sql, kShopDatabase).ok());
  // The rotation's window is declared on the partitioned table, not on each
  // partition.
  const std::string start =
      absl::FormatTime("%H:%M", absl::Now() - absl::Minutes(1), absl::UTCTimeZone());
  sc.StartAgent(sc.Yaml(
      "off", absl::StrCat("maintenance:\n  windows:\n    - name: rotate-metrics\n      start: \"",
                          start, "\"\n      duration: 1h\n      tables: [\"public.metrics\"]\n")));
  // Every second a new day's partition is created and filled, and the
  // oldest (1,500 rows) dropped.
  constexpr int kRotations = 10;
  for (int k = 0; k < kRotations; ++k) {
    const int day = kDays + k;
    REQUIRE(sc.pg
                ->Psql(absl::StrCat("CREATE TABLE metrics_d", day, " PARTITION OF metrics FOR ",
                                    "VALUES FROM (", day, ") TO (", day + 1, ");",
                                    "INSERT INTO metrics SELECT ", day,
                                    ", 'm' FROM generate_series(1, 1500);", "DROP TABLE metrics_d",
                                    k, ";"),
                       kShopDatabase)
                .ok());
    absl::SleepFor(absl::Seconds(1));
  }
  absl::SleepFor(absl::Seconds(3));
  INFO(sc.agent->Log());
  std::string paged;
  for (const ReceivedEvent& ev : sc.pager.events()) absl::StrAppend(&paged, ev.body.dump(), "\n");
  INFO(paged);
  CHECK(sc.pager.events().empty());  // nothing pages
  // The drops were seen, and silenced by the window on the partitioned table.
  const double silenced = MetricValue(sc.agent->Metrics(), "pgwarden_signals_suppressed_total",
                                      {"reason=\"maintenance\""})
                              .value_or(0);
  std::cout << "[figure] 100 partitions, " << kRotations
            << " rotations in a window: " << sc.pager.events().size() << " pages, " << silenced
            << " signals silenced\n";
  CHECK(silenced >= kRotations);
}

}  // namespace
}  // namespace pgwarden::testing
