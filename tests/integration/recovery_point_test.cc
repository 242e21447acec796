// The recovery point in every destructive page, checked by a real
// point-in-time restore: a base backup before the incident, the WAL
// archive, and a copy of the cluster restored to the page's target_lsn.

#include <httplib.h>

#include <fstream>
#include <iostream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "devtools/process.h"
#include "tests/integration/commit_time.h"
#include "tests/integration/run_pgwarden.h"
#include "tests/integration/scenario.h"

namespace pgwarden::testing {
namespace {

// The archive is data_dir/../archive (archive_command runs in the data
// directory).
const std::vector<std::string> kArchiveConf = {
    "archive_mode = on", "archive_command = 'mkdir -p ../archive && cp %p ../archive/%f'"};

// ArchiveCurrentWal switches to a new WAL segment and waits until the one
// just finished is archived.
void ArchiveCurrentWal(const LocalPostgres& pg) {
  auto segment = pg.Psql("SELECT pg_walfile_name(pg_switch_wal())");
  REQUIRE(segment.ok());
  const bool archived = WaitUntil(
      [&] {
        auto last = pg.Psql("SELECT coalesce(last_archived_wal, '') FROM pg_stat_archiver");
        return last.ok() && *last >= *segment;
      },
      absl::Seconds(30));
  REQUIRE(archived);
}

// RestoredRows restores a copy of the cluster from `base` and the archive
// to `target_lsn` (recovery_target_inclusive = off, paused at the target)
// and counts its customers.
int64_t RestoredRows(const LocalPostgres& pg, const std::string& base,
                     const std::string& target_lsn) {
  LocalPostgresOptions o;
  o.restore_from = base;
  o.extra_conf = {absl::StrCat("restore_command = 'cp ", pg.dir(), "/archive/%f %p'"),
                  absl::StrCat("recovery_target_lsn = '", target_lsn, "'"),
                  "recovery_target_inclusive = off",
                  "recovery_target_action = pause",
                  "archive_mode = off",
                  "hot_standby = on"};
  auto copy = LocalPostgres::Start(o);
  INFO(copy.status().message());
  REQUIRE(copy.ok());
  const bool paused = WaitUntil(
      [&] {
        auto p = (*copy)->Psql("SELECT pg_is_wal_replay_paused()");
        return p.ok() && *p == "t";
      },
      absl::Seconds(60));
  REQUIRE(paused);
  auto rows = (*copy)->Psql("SELECT count(*) FROM customers", kShopDatabase);
  REQUIRE(rows.ok());
  return std::stoll(*rows);
}

void CheckRestore(Path path) {
  const bool stream = path == Path::kStream;
  LocalPostgresOptions o = stream ? LogicalOptions() : LocalPostgresOptions{};
  o.extra_conf.insert(o.extra_conf.end(), kArchiveConf.begin(), kArchiveConf.end());
  Scenario sc(200000, o);
  if (stream) GrantReplication(sc);
  const std::string base = sc.pg->dir() + "/base";
  REQUIRE(sc.pg->BaseBackup(base).ok());
  // Rows written after the backup: the restore replays them from the archive.
  REQUIRE(sc.pg
              ->Psql("INSERT INTO customers (name, email) SELECT 'late ' || g, 'l' || g || "
                     "'@example.com' FROM generate_series(1, 5000) g",
                     kShopDatabase)
              .ok());
  const int64_t before = sc.Count("customers");
  sc.StartAgent(WithTargetLines(sc.Yaml("off"), TargetLines(path)));
  if (stream) WaitStreaming(sc);
  // The statistics' bound lies up to stats_lag (11 s) before the damage.
  absl::SleepFor(absl::Seconds(13));
  auto job = StartCleanupJob(*sc.pg, CleanupScriptSql("customers", 60, 2000, absl::Seconds(0.2)));
  REQUIRE(job.ok());
  auto page = sc.pager.WaitFor(
      [](const nlohmann::json& ev) {
        return ev.value("event_action", "") == "trigger" &&
               ev["payload"]["custom_details"].contains("recovery");
      },
      absl::Seconds(30));
  StopProcess(*job, absl::Seconds(2));
  INFO(sc.agent->Log());
  REQUIRE(page.has_value());
  const nlohmann::json rec = page->body["payload"]["custom_details"]["recovery"];
  INFO(rec.dump());
  CHECK(rec["exact"] == stream);
  CHECK(rec["basis"] == (stream ? "change_stream" : "statistics"));
  CHECK(rec["first_destructive_xid"].is_number() == stream);
  CHECK(rec["wal_archive"]["enabled"] == true);
  CHECK(rec["wal_archive"]["healthy"] == true);
  const int64_t after = sc.Count("customers");
  CHECK(after < before);
  // /status and the state file carry it too.
  const std::string lsn = rec["target_lsn"].get<std::string>();
  httplib::Client cli("127.0.0.1", sc.agent->port());
  auto status = cli.Get("/status");
  REQUIRE(status);
  CHECK(absl::StrContains(status->body, lsn));
  std::ifstream state_in(sc.pg->dir() + "/state/incidents.json");
  const std::string state((std::istreambuf_iterator<char>(state_in)),
                          std::istreambuf_iterator<char>());
  CHECK(absl::StrContains(state, lsn));
  // `pgwarden recovery` prints the same point as postgresql.conf lines.
  const int64_t id = page->body["payload"]["custom_details"]["incident_id"].get<int64_t>();
  CommandResult cmd =
      Run({"recovery", std::to_string(id), "--config", sc.pg->dir() + "/pgwarden.yaml"});
  INFO(cmd.output);
  CHECK(cmd.code == 0);
  CHECK(absl::StrContains(cmd.output, absl::StrCat("recovery_target_lsn = '", lsn, "'")));
  CHECK(absl::StrContains(cmd.output, "recovery_target_inclusive = off"));
  CHECK(Run({"recovery", "999", "--config", sc.pg->dir() + "/pgwarden.yaml"}).code == 1);
  ArchiveCurrentWal(*sc.pg);
  const int64_t restored = RestoredRows(*sc.pg, base, rec["target_lsn"].get<std::string>());
  std::cout << "[figure] point-in-time restore to the page's target_lsn ("
            << (stream ? "exact, change stream" : "bound, statistics") << "): rows before "
            << before << ", after the script " << after << ", in the restored copy " << restored
            << "\n";
  CHECK(restored == before);
}

TEST_CASE(
    "Recovery point: a restore to the page's target_lsn holds every row, from the change "
    "stream (exact)",
    "[integration][recovery]") {
  CheckRestore(Path::kStream);
}

TEST_CASE(
    "Recovery point: a restore to the page's target_lsn holds every row, from the "
    "statistics (a bound)",
    "[integration][recovery]") {
  CheckRestore(Path::kStatsOnly);
}

TEST_CASE("WAL archive: a failing archive_command pages as wal_archive and resolves once fixed",
          "[integration][recovery]") {
  LocalPostgresOptions o;
  o.extra_conf = kArchiveConf;
  Scenario sc(1000, o);
  ArchiveCurrentWal(*sc.pg);  // archiving works at the start
  sc.StartAgent(sc.Yaml("off", "incidents:\n  resolve_after: 3s\n"));
  CHECK(MetricValue(sc.agent->Metrics(), "pgwarden_wal_archive_enabled", {"target=\"shop\""}) ==
        1.0);
  CHECK(MetricValue(sc.agent->Metrics(), "pgwarden_wal_archived_total", {"target=\"shop\""})
            .value_or(0) >= 1);
  const absl::Time broken = absl::Now();
  // (ALTER SYSTEM cannot run in the transaction of a multi-statement -c.)
  REQUIRE(sc.pg->Psql("ALTER SYSTEM SET archive_command = 'false'").ok());
  REQUIRE(sc.pg->Psql("SELECT pg_reload_conf()").ok());
  REQUIRE(sc.pg
              ->Psql("INSERT INTO orders (customer_id, amount) SELECT 1, 1 FROM "
                     "generate_series(1, 1000); SELECT pg_switch_wal()",
                     kShopDatabase)
              .ok());
  auto page = sc.pager.WaitFor(
      [](const nlohmann::json& ev) {
        return ev.value("event_action", "") == "trigger" &&
               ev["payload"]["custom_details"].contains("wal_archive");
      },
      absl::Seconds(30));
  INFO(sc.agent->Log());
  REQUIRE(page.has_value());
  const double paged_after = absl::ToDoubleSeconds(absl::Now() - broken);
  CHECK(page->body["payload"]["severity"] == "critical");
  CHECK(absl::StrContains(page->body["payload"]["summary"].get<std::string>(),
                          "point-in-time restore"));
  CHECK(MetricValue(sc.agent->Metrics(), "pgwarden_wal_archive_failures_total", {"target=\"shop\""})
            .value_or(0) >= 3);
  // Fixed: the archiver retries at the reload, archives, and the incident
  // resolves.
  REQUIRE(sc.pg->Psql("ALTER SYSTEM RESET archive_command").ok());
  REQUIRE(sc.pg->Psql("SELECT pg_reload_conf()").ok());
  const absl::Time fixed = absl::Now();
  auto resolved = sc.pager.WaitFor(
      [&](const nlohmann::json& ev) {
        return ev.value("event_action", "") == "resolve" &&
               ev.value("dedup_key", "") == page->body.value("dedup_key", "");
      },
      absl::Seconds(40));
  REQUIRE(resolved.has_value());
  std::cout << "[figure] archive_command = 'false': paged as wal_archive " << paged_after
            << " s after the change; fixed: resolved " << absl::ToDoubleSeconds(absl::Now() - fixed)
            << " s later\n";
}

}  // namespace
}  // namespace pgwarden::testing
