// The change stream end to end with the real agent: exactly-once counting
// across a SIGKILL, a slot invalidated by max_slot_wal_keep_size paged as a
// gap and recreated, unlimited retention refused, and normal churn quiet.

#include <signal.h>

#include <iostream>
#include <pqxx/pqxx>

#include "absl/strings/match.h"
#include "absl/time/clock.h"
#include "devtools/process.h"
#include "tests/integration/commit_time.h"

namespace pgwarden::testing {
namespace {

std::string SlotQuery(const Scenario& sc, const std::string& column) {
  auto r = sc.pg->Psql(absl::StrCat("SELECT coalesce((SELECT ", column,
                                    "::text FROM pg_replication_slots WHERE slot_name = "
                                    "'pgwarden_shop'), 'none')"),
                       "shop");
  REQUIRE(r.ok());
  return *r;
}

double Deletes(const Scenario& sc) {
  return MetricValue(sc.agent->Metrics(), "pgwarden_change_stream_changes_total",
                     {"target=\"shop\"", "op=\"delete\""})
      .value_or(-1);
}

TEST_CASE(
    "Change stream: an agent SIGKILLed while the stream is busy counts every committed "
    "delete once after its restart",
    "[integration][change_stream]") {
  Scenario sc(1000, LogicalOptions());
  REQUIRE(sc.pg
              ->Psql("SET ROLE shop_owner; CREATE TABLE events AS SELECT g AS id, "
                     "md5(g::text) AS body FROM generate_series(1, 60000) g; "
                     "ALTER TABLE events ADD PRIMARY KEY (id); "
                     "GRANT SELECT, DELETE ON events TO cleanup_job; ANALYZE events;",
                     "shop")
              .ok());
  GrantReplication(sc);
  const std::string yaml = WithTargetLines(sc.Yaml("off"), TargetLines(Path::kStream));
  sc.StartAgent(yaml);
  WaitStreaming(sc);
  REQUIRE(Deletes(sc) == 0);
  // 50 batches of 1,000 rows, each its own transaction, at ~10 batches/s.
  auto job = StartCleanupJob(*sc.pg, CleanupScriptSql("events", 50, 1000, absl::Milliseconds(100)));
  REQUIRE(job.ok());
  REQUIRE(WaitUntil([&] { return Deletes(sc) >= 10000; }, absl::Seconds(20)));
  sc.agent->Kill(SIGKILL);
  absl::SleepFor(absl::Seconds(1));  // batches commit while no agent reads
  sc.StartAgent(yaml);
  absl::StatusOr<int> exit = WaitProcess(*job, absl::Seconds(30));
  if (!exit.ok()) StopProcess(*job, absl::Seconds(2));
  REQUIRE(exit.ok());
  const int64_t committed = 60000 - sc.Count("events");
  REQUIRE(committed == 50000);
  const bool caught_up = WaitUntil([&] { return Deletes(sc) >= 50000; }, absl::Seconds(20));
  absl::SleepFor(absl::Seconds(2));  // anything counted twice would show by now
  INFO(sc.agent->Log());
  CHECK(caught_up);
  CHECK(Deletes(sc) == 50000);
  // The slot keeps up: confirmed close to the server's WAL end.
  CHECK(WaitUntil(
      [&] {
        return MetricValue(sc.agent->Metrics(), "pgwarden_change_stream_lag_bytes",
                           {"target=\"shop\""})
                   .value_or(1e12) < 1e6;
      },
      absl::Seconds(10)));
}

TEST_CASE(
    "Change stream: a slot invalidated by max_slot_wal_keep_size is paged once as a gap "
    "and recreated",
    "[integration][change_stream]") {
  Scenario sc(1000, LogicalOptions("1MB"));
  GrantReplication(sc);
  const std::string yaml = WithTargetLines(sc.Yaml("off"), TargetLines(Path::kStream));
  sc.StartAgent(yaml);
  WaitStreaming(sc);
  sc.agent->Kill(SIGTERM);
  // With nobody reading, write and switch WAL segments until the server
  // invalidates the slot (bounded).
  bool lost = false;
  for (int i = 0; i < 40 && !lost; ++i) {
    REQUIRE(sc.pg
                ->Psql("CREATE TABLE IF NOT EXISTS filler (b text); "
                       "INSERT INTO filler SELECT repeat('x', 1000) FROM generate_series(1, 2000); "
                       "SELECT pg_switch_wal(); CHECKPOINT;",
                       "shop")
                .ok());
    lost = SlotQuery(sc, "wal_status") == "lost";
  }
  REQUIRE(lost);
  sc.StartAgent(yaml);
  auto gap = sc.pager.WaitFor(IsTriggerFor("gap"), absl::Seconds(30));
  INFO(sc.agent->Log());
  REQUIRE(gap.has_value());
  CHECK(gap->body["payload"]["custom_details"].contains("coverage_gap"));
  WaitStreaming(sc);
  CHECK(SlotQuery(sc, "wal_status") != "lost");
  CHECK(MetricValue(sc.agent->Metrics(), "pgwarden_change_stream_gaps_total", {"target=\"shop\""})
            .value_or(0) == 1);
  // Paged once: no second gap trigger after a few more seconds.
  absl::SleepFor(absl::Seconds(3));
  int gaps = 0;
  for (const ReceivedEvent& e : sc.pager.events()) {
    gaps += e.body.value("event_action", "") == "trigger" &&
            e.body["payload"]["custom_details"].contains("coverage_gap") &&
            absl::StrContains(e.body["payload"].value("summary", ""), "gap");
  }
  CHECK(gaps >= 1);
  CHECK(SlotQuery(sc, "active") == "true");
}

TEST_CASE(
    "Change stream: unlimited slot retention is refused with a clear message, the agent "
    "runs on the other paths",
    "[integration][change_stream]") {
  Scenario sc(20000, LogicalOptions("-1"));
  GrantReplication(sc);
  sc.StartAgent(WithTargetLines(sc.Yaml("off"), TargetLines(Path::kStream)));
  const bool refused =
      WaitUntil([&] { return absl::StrContains(sc.agent->Log(), "allow_unbounded_retention"); },
                absl::Seconds(15));
  INFO(sc.agent->Log());
  CHECK(refused);
  CHECK(absl::StrContains(sc.agent->Log(), "max_slot_wal_keep_size"));
  CHECK(SlotQuery(sc, "slot_name") == "none");
  const std::string m = sc.agent->Metrics();
  CHECK(MetricValue(m, "pgwarden_change_stream_up", {"target=\"shop\""}) == 0.0);
  CHECK(MetricValue(m, "pgwarden_up", {"target=\"shop\""}) == 1.0);
  // The other paths still see a TRUNCATE.
  REQUIRE(sc.pg->Psql("TRUNCATE customers CASCADE", "shop").ok());
  CHECK(sc.pager.WaitFor(IsTriggerFor("customers"), absl::Seconds(10)).has_value());
}

TEST_CASE("Change stream: 60 s of normal churn with the stream on pages nothing",
          "[integration][change_stream]") {
  Scenario sc(200000, LogicalOptions());
  GrantReplication(sc);
  sc.StartAgent(WithTargetLines(sc.Yaml("off"), TargetLines(Path::kStream)));
  WaitStreaming(sc);
  ChurnWorkload churn(sc.pg->Dsn("shop", kAppRole, kAppPassword));
  churn.Start();
  absl::SleepFor(absl::Seconds(60));
  churn.Stop();
  INFO(sc.agent->Log());
  CHECK(churn.transactions() > 500);
  CHECK(sc.pager.events().empty());
  CHECK(MetricValue(sc.agent->Metrics(), "pgwarden_change_stream_changes_total",
                    {"target=\"shop\"", "op=\"insert\""})
            .value_or(0) > 0);
}

}  // namespace
}  // namespace pgwarden::testing
