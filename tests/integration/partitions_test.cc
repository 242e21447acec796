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

TEST_CASE("Partitions: a fifth of 24 partitions deleted in one statement is one page for the "
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
  // table, as what they are.
  REQUIRE(sc.pg->Psql("DROP TABLE events_p23", kShopDatabase).ok());
  auto dropped = sc.pager.WaitFor(
      [](const nlohmann::json& ev) {
        return ev.value("event_action", "") == "trigger" &&
               absl::StrContains(ev["payload"].value("summary", ""), "events_p23") &&
               ev.value("dedup_key", "") == "pgwarden/production/shop/public.events";
      },
      absl::Seconds(10));
  CHECK(dropped.has_value());
  REQUIRE(sc.pg->Psql("ALTER TABLE events DETACH PARTITION events_p22", kShopDatabase).ok());
  auto detached = sc.pager.WaitFor(
      [](const nlohmann::json& ev) {
        return ev.value("event_action", "") == "trigger" &&
               absl::StrContains(ev["payload"].value("summary", ""),
                                 "partition public.events_p22 detached") &&
               ev.value("dedup_key", "") == "pgwarden/production/shop/public.events";
      },
      absl::Seconds(10));
  CHECK(detached.has_value());

  // In flight: a DELETE without WHERE on the partitioned table is seen by the
  // session guard (the partitioned table is watched through its partitions).
  auto held = StartCleanupJob(*sc.pg, "BEGIN;\nDELETE FROM events;\nSELECT pg_sleep(8);\nROLLBACK;\n");
  REQUIRE(held.ok());
  auto in_flight = sc.pager.WaitFor(
      [](const nlohmann::json& ev) {
        return ev.value("event_action", "") == "trigger" &&
               ev["payload"]["custom_details"].contains("destructive_in_flight") &&
               ev.value("dedup_key", "") == "pgwarden/production/shop/public.events";
      },
      absl::Seconds(10));
  StopProcess(*held, absl::Seconds(2));
  INFO(sc.agent->Log());
  CHECK(in_flight.has_value());
  CHECK(sc.pager.violations().empty());
}

}  // namespace
}  // namespace pgwarden::testing
