#include "signals/table_watch.h"

#include "absl/strings/match.h"
#include "agent/config.h"
#include "catch2/catch.hpp"

namespace pgwarden {
namespace {

DetectorFactories Defaults() {
  DetectorFactories f;
  f.rows = *MakeDetectorFactory("level_drop", {});
  f.delete_rate = *MakeDetectorFactory("rate_spike", {});
  f.rollback_ratio = *MakeDetectorFactory("ratio", {});
  const DetectorsConfig d;  // the agent's defaults
  f.failed_logins = *MakeDetectorFactory(d.failed_logins.detector, d.failed_logins.params);
  return f;
}

// WatchFixture drives a TargetWatch with one table "public.customers".
struct WatchFixture {
  TargetWatch watch{Defaults()};
  Snapshot snap;
  absl::Time t = absl::FromUnixSeconds(1700000000);
  WatchFixture() {
    TableStat s;
    s.oid = 16384;
    s.relfilenode = 16384;
    s.schema = "public";
    s.name = "customers";
    s.live_rows = 200000;
    s.inserted = 200000;
    snap.database = "shop";
    snap.tables = {s};
    snap.all_oids = {16384};
    snap.db.xact_commit = 1000;
  }
  TableStat& table() { return snap.tables[0]; }
  WatchResult Tick() {
    t += absl::Seconds(1);
    snap.time = t;
    snap.db.xact_commit += 50;
    return watch.Process(snap);
  }
  // Churn: a few inserts and deletes that cancel out.
  void Churn(int n) {
    table().inserted += n;
    table().deleted += n;
    table().updated += n;
  }
};

bool HasKind(const WatchResult& r, SignalKind kind) {
  for (const SignalEvent& e : r.events) {
    if (e.kind == kind) return true;
  }
  return false;
}

TEST_CASE("TargetWatch: normal churn produces no events", "[table_watch]") {
  WatchFixture f;
  for (int i = 0; i < 600; ++i) {
    f.Churn(20 + i % 30);
    f.table().live_rows += (i % 2 == 0) ? 15 : -15;
    WatchResult r = f.Tick();
    REQUIRE(r.events.empty());
  }
}

TEST_CASE("TargetWatch: batched deletes page as row loss within a sample", "[table_watch]") {
  WatchFixture f;
  for (int i = 0; i < 60; ++i) {
    f.Churn(10);
    REQUIRE(f.Tick().events.empty());
  }
  // 5 batches of 1,000 rows committed in the last second.
  f.table().deleted += 5000;
  f.table().live_rows -= 5000;
  WatchResult r = f.Tick();
  REQUIRE(HasKind(r, SignalKind::kRowLoss));
  const SignalEvent& ev = r.events[0];
  CHECK(ev.table == "customers");
  CHECK(ev.figures["rows_lost"].get<int64_t>() == 5000);
  CHECK(absl::StrContains(ev.description, "public.customers lost 5,000 of 200,000 rows"));
}

TEST_CASE("TargetWatch: a live-row drop without deletes (ANALYZE re-estimate) is not row loss",
          "[table_watch]") {
  WatchFixture f;
  for (int i = 0; i < 60; ++i) REQUIRE(f.Tick().events.empty());
  f.table().live_rows -= 20000;  // estimate changed, no deletes counted
  f.table().maintenance_count += 1;
  CHECK(f.Tick().events.empty());
}

TEST_CASE("TargetWatch: a rolled-back mass DELETE does not page", "[table_watch]") {
  WatchFixture f;
  for (int i = 0; i < 60; ++i) REQUIRE(f.Tick().events.empty());
  f.table().deleted += 150000;  // counted, but rolled back: live rows unchanged
  WatchResult r = f.Tick();
  CHECK(r.events.empty());
}

TEST_CASE("TargetWatch: TRUNCATE is an immediate critical event", "[table_watch]") {
  WatchFixture f;
  f.Tick();
  f.table().relfilenode = 99999;
  f.table().live_rows = 0;
  WatchResult r = f.Tick();
  REQUIRE(HasKind(r, SignalKind::kTruncate));
  CHECK(r.events[0].severity == Severity::kCritical);
  CHECK(r.events[0].figures["rows_before"].get<int64_t>() == 200000);
}

TEST_CASE("TargetWatch: VACUUM FULL (new relfilenode, rows kept) is not a TRUNCATE",
          "[table_watch]") {
  WatchFixture f;
  f.Tick();
  f.table().relfilenode = 99999;
  CHECK(f.Tick().events.empty());
}

TEST_CASE("TargetWatch: DROP TABLE is an event, a rename out of scope is not", "[table_watch]") {
  WatchFixture f;
  f.Tick();
  WatchFixture g;
  g.Tick();
  // Dropped: gone from every table.
  f.snap.tables.clear();
  f.snap.all_oids.clear();
  WatchResult r = f.Tick();
  REQUIRE(HasKind(r, SignalKind::kDropTable));
  REQUIRE(r.removed.size() == 1);
  // Renamed out of the include globs: still exists, just not watched.
  g.snap.tables.clear();
  WatchResult r2 = g.Tick();
  CHECK(r2.events.empty());
  CHECK(r2.removed.size() == 1);
}

TEST_CASE("TargetWatch: counters going backwards are a reset, never a drop", "[table_watch]") {
  WatchFixture f;
  for (int i = 0; i < 30; ++i) {
    f.Churn(10);
    f.Tick();
  }
  // Crash recovery: every counter and n_live_tup back to zero.
  f.table().live_rows = 0;
  f.table().inserted = 0;
  f.table().deleted = 0;
  f.table().updated = 0;
  WatchResult r = f.Tick();
  CHECK(r.events.empty());
  CHECK(r.counter_resets == 1);
}

TEST_CASE("TargetWatch: a maintenance window silences but reports", "[table_watch]") {
  TargetWatch watch(Defaults(), [](const std::string&, const std::string& table, absl::Time) {
    return table == "customers" ? std::string("nightly-purge") : std::string();
  });
  WatchFixture f;
  f.snap.time = f.t;
  watch.Process(f.snap);
  f.table().deleted += 100000;
  f.table().live_rows -= 100000;
  f.snap.time += absl::Seconds(1);
  WatchResult r = watch.Process(f.snap);
  CHECK(r.events.empty());
  REQUIRE_FALSE(r.suppressed.empty());
  CHECK(r.suppressed[0].second == "nightly-purge");
}

TEST_CASE("TargetWatch: rollback ratio jump pages, background rate does not", "[table_watch]") {
  WatchFixture f;
  for (int i = 0; i < 120; ++i) {
    f.snap.db.xact_rollback += (i % 10 == 0) ? 1 : 0;  // ~0.2% background
    REQUIRE(f.Tick().events.empty());
  }
  f.snap.db.xact_rollback += 400;  // 400 rollbacks against ~50 commits
  WatchResult r = f.Tick();
  CHECK(HasKind(r, SignalKind::kRollbackRatio));
}

LoginFailures Failures(int64_t n, const std::string& user = "app") {
  LoginFailures f;
  f.total = n;
  if (n > 0) {
    f.by_reason["password"] = n;
    f.by_user[user] = n;
  }
  return f;
}

TEST_CASE("TargetWatch: a storm of failed logins pages, the background rate does not",
          "[table_watch]") {
  WatchFixture f;
  WatchResult first;
  f.watch.ProcessLogins(f.t, "shop", Failures(0), &first);
  CHECK(first.events.empty());
  // Ten minutes of typos and a misconfigured monitor: up to 3 failures in a
  // second, most seconds none.
  for (int i = 0; i < 600; ++i) {
    f.t += absl::Seconds(1);
    WatchResult r;
    const int64_t n = (i % 37 == 0) ? 3 : (i % 7 == 0) ? 1 : 0;
    f.watch.ProcessLogins(f.t, "shop", Failures(n), &r);
    INFO(i);
    REQUIRE(r.events.empty());
  }
  // A password-guessing storm: 60 failures in one second, mostly as root.
  f.t += absl::Seconds(1);
  LoginFailures storm = Failures(50, "root");
  storm.total = 60;
  storm.by_user["admin"] = 10;
  storm.by_reason["password"] = 60;
  WatchResult r;
  f.watch.ProcessLogins(f.t, "shop", storm, &r);
  REQUIRE(HasKind(r, SignalKind::kFailedLogins));
  const SignalEvent& ev = r.events.front();
  CHECK(absl::StrContains(ev.description, "60 failed logins"));
  CHECK(absl::StrContains(ev.description, "root (50), admin (10)"));
  CHECK(ev.figures["top_users"]["root"] == 50);
  CHECK(f.watch.failed_logins_score() > 0.5);
}

TEST_CASE("TargetWatch: a failed-login storm right after start pages (hard rate)",
          "[table_watch]") {
  WatchFixture f;
  WatchResult r;
  f.watch.ProcessLogins(f.t, "shop", Failures(0), &r);
  f.t += absl::Seconds(1);
  f.watch.ProcessLogins(f.t, "shop", Failures(0), &r);
  f.t += absl::Seconds(1);
  f.watch.ProcessLogins(f.t, "shop", Failures(4), &r);
  CHECK(r.events.empty());  // below min_rate
  f.t += absl::Seconds(1);
  f.watch.ProcessLogins(f.t, "shop", Failures(40), &r);
  CHECK(HasKind(r, SignalKind::kFailedLogins));
}

}  // namespace
}  // namespace pgwarden
