// The update_spike signal on each path: the statistics (TargetWatch, one
// sample a second) and the commit-time sources (ChangeWatch, the change
// stream and the statement counters, a tick every 250 ms), with the agent's
// default detector and gate.

#include <random>

#include "absl/strings/match.h"
#include "agent/config.h"
#include "catch2/catch.hpp"
#include "signals/change_watch.h"
#include "signals/table_watch.h"

namespace pgwarden {
namespace {

DetectorFactories Factories() {
  const DetectorsConfig d;  // the agent's defaults
  DetectorFactories f;
  f.rows = *MakeDetectorFactory(d.rows.detector, d.rows.params);
  f.delete_rate = *MakeDetectorFactory(d.delete_rate.detector, d.delete_rate.params);
  f.update_rate = *MakeDetectorFactory(d.update_rate.detector, d.update_rate.params);
  f.update_gate = d.update_gate;
  return f;
}

const SignalEvent* Find(const WatchResult& r, SignalKind kind) {
  for (const SignalEvent& e : r.events) {
    if (e.kind == kind) return &e;
  }
  return nullptr;
}

// Stats drives a TargetWatch over one table of `rows` rows, sampled every
// second, and counts the update_spike events.
struct Stats {
  explicit Stats(int64_t rows) {
    TableStat s;
    s.oid = 16384;
    s.relfilenode = 16384;
    s.schema = "public";
    s.name = "customers";
    s.live_rows = rows;
    s.inserted = rows;
    snap.database = "shop";
    snap.tables = {s};
    snap.all_oids = {16384};
  }
  TargetWatch watch{Factories()};
  Snapshot snap;
  absl::Time t = absl::FromUnixSeconds(1700000000);
  int spikes = 0;
  const SignalEvent* last = nullptr;
  WatchResult result;
  // Sample adds `updated` rows updated in the last second (by transactions
  // that committed, or rolled back).
  void Sample(int64_t updated, bool committed = true) {
    snap.tables[0].updated += updated;
    if (committed) snap.tables[0].modified += updated;
    t += absl::Seconds(1);
    snap.time = t;
    result = watch.Process(snap);
    last = Find(result, SignalKind::kUpdateSpike);
    if (last != nullptr) ++spikes;
  }
};

TEST_CASE("update_spike (statistics): steady updates at the table's usual rate never page",
          "[update_spike]") {
  std::mt19937 rng(7);
  SECTION("light, jittery updates of a large table") {
    Stats s(100000);
    std::poisson_distribution<int> rate(200);
    for (int i = 0; i < 600; ++i) s.Sample(rate(rng));
    CHECK(s.spikes == 0);
  }
  SECTION("a hot counters table updated thousands of times a second") {
    Stats s(100);
    std::normal_distribution<double> rate(5000, 800);
    for (int i = 0; i < 600; ++i) s.Sample(std::max(0, static_cast<int>(rate(rng))));
    CHECK(s.spikes == 0);
  }
  SECTION("a busier hour: the usual rate doubles") {
    Stats s(1000000);
    std::poisson_distribution<int> quiet(1000);
    std::poisson_distribution<int> busy(2000);
    for (int i = 0; i < 120; ++i) s.Sample(quiet(rng));
    for (int i = 0; i < 600; ++i) s.Sample(busy(rng));
    CHECK(s.spikes == 0);
  }
  SECTION("a big hot table's normal bursts rewrite a small share of it") {
    Stats s(10000000);
    std::poisson_distribution<int> rate(1000);
    for (int i = 0; i < 120; ++i) s.Sample(rate(rng));
    for (int burst = 0; burst < 5; ++burst) {
      for (int i = 0; i < 5; ++i) s.Sample(20000);  // 100,000 rows: 1 % of the table
      for (int i = 0; i < 60; ++i) s.Sample(rate(rng));
    }
    CHECK(s.spikes == 0);
  }
}

TEST_CASE("update_spike (statistics): a script overwriting a share of the table pages",
          "[update_spike]") {
  Stats s(100000);
  std::poisson_distribution<int> rate(20);
  std::mt19937 rng(11);
  for (int i = 0; i < 60; ++i) s.Sample(rate(rng));
  REQUIRE(s.spikes == 0);
  int seconds = 0;
  while (s.spikes == 0 && seconds < 12) {
    s.Sample(5000);  // 1,000-row batches at ~5,000 rows/s
    ++seconds;
  }
  REQUIRE(s.spikes == 1);
  CHECK(seconds == 1);  // 5,000 rows: 5 % of the table in the first second
  CHECK(s.last->table == "customers");
  CHECK(absl::StrContains(s.last->description, "public.customers"));
  CHECK(s.last->figures["updated_in_burst"] == 5000);
  CHECK(s.last->figures["share"].get<double>() == Approx(0.05));
}

TEST_CASE("update_spike (statistics): a spike below the share of the table does not page",
          "[update_spike]") {
  Stats s(1000000);
  for (int i = 0; i < 60; ++i) s.Sample(20);
  s.Sample(5000);  // 0.5 % of the table
  s.Sample(5000);  // 1 %
  CHECK(s.spikes == 0);
  s.Sample(5000);
  CHECK(s.spikes == 0);
  s.Sample(5000);  // 2 %: the default min_share
  REQUIRE(s.spikes == 1);
  CHECK(s.last->figures["updated_in_burst"] == 20000);
}

TEST_CASE("update_spike (statistics): a mass UPDATE rolled back is not paged", "[update_spike]") {
  Stats s(100000);
  for (int i = 0; i < 60; ++i) s.Sample(20);
  s.Sample(50000, /*committed=*/false);
  CHECK(s.spikes == 0);
  REQUIRE(s.result.suppressed.size() == 1);
  CHECK(s.result.suppressed[0].first.kind == SignalKind::kUpdateSpike);
  CHECK(s.result.suppressed[0].second == "unconfirmed");
  // Committed, the same burst pages.
  s.Sample(50000);
  CHECK(s.spikes == 1);
}

// Commit drives a ChangeWatch over one table of 100,000 rows, a tick every
// 250 ms.
struct Commit {
  explicit Commit(ChangeSource source) : watch(source, Factories()) {
    TableStat s;
    s.oid = 16384;
    s.schema = "public";
    s.name = "customers";
    s.live_rows = 100000;
    snap.tables = {s};
    watch.SyncTables(snap);
  }
  ChangeWatch watch;
  Snapshot snap;
  absl::Time t = absl::FromUnixSeconds(1700000000);
  uint32_t xid = 700;
  int spikes = 0;
  SignalEvent last;

  // Add reports `updated` rows updated by `role` (a committed transaction of
  // the stream, or a statement change), then evaluates.
  void Tick(int64_t updated, const std::string& role) {
    if (updated > 0) {
      TableChange c;
      c.schema = "public";
      c.table = "customers";
      c.updated = updated;
      if (watch.source() == ChangeSource::kStatements) {
        c.role = role;
        watch.AddChanges({c});
      } else {
        CommittedTxn txn;
        txn.xid = ++xid;
        txn.commit_time = t;
        txn.tables = {c};
        XidSession session;
        session.xid = txn.xid;
        session.pid = 4242;
        session.role = role;
        watch.ObserveSessions(t, {session});
        watch.AddTransactions({txn});
      }
    }
    t += absl::Milliseconds(250);
    WatchResult out;
    watch.Evaluate(t, &out);
    if (const SignalEvent* e = Find(out, SignalKind::kUpdateSpike)) {
      ++spikes;
      last = *e;
    }
  }
};

TEST_CASE("update_spike (commit time): steady updates never page, a mass overwrite does",
          "[update_spike]") {
  const ChangeSource source = GENERATE(ChangeSource::kStream, ChangeSource::kStatements);
  INFO(ChangeSourceName(source));
  Commit c(source);
  std::mt19937 rng(3);
  std::poisson_distribution<int> steady(50);                  // ~200 rows/s by the application
  for (int i = 0; i < 2400; ++i) c.Tick(steady(rng), "app");  // 10 minutes
  REQUIRE(c.spikes == 0);
  int ticks = 0;
  while (c.spikes == 0 && ticks < 48) {
    // 1,000-row batches at ~5,000 rows/s, the application carrying on.
    c.Tick(2500, "cleanup_job");
    c.Tick(steady(rng), "app");
    ticks += 2;
  }
  REQUIRE(c.spikes == 1);
  CHECK(ticks <= 4);  // within a second
  CHECK(c.last.table == "customers");
  CHECK(absl::StrContains(c.last.description, "public.customers"));
  CHECK(absl::StrContains(c.last.description, ChangeSourceName(source)));
  const nlohmann::json& ev = c.last.figures["evidence"];
  CHECK(ev["verb"] == "updated");
  CHECK(ev["rows_by_role"]["cleanup_job"].get<int64_t>() >= 1000);
  if (source == ChangeSource::kStream) {
    REQUIRE(ev["committed_by"].size() >= 1);
    CHECK(ev["committed_by"][0]["pid"] == 4242);
  }
}

TEST_CASE("update_spike: without an update_rate factory nothing is tracked", "[update_spike]") {
  DetectorFactories f = Factories();
  f.update_rate = nullptr;
  TargetWatch watch(f);
  Snapshot snap;
  TableStat s;
  s.oid = 1;
  s.schema = "public";
  s.name = "t";
  s.live_rows = 1000;
  snap.tables = {s};
  snap.all_oids = {1};
  absl::Time t = absl::FromUnixSeconds(1700000000);
  for (int i = 0; i < 40; ++i) {
    snap.tables[0].updated += i < 30 ? 1 : 100000;
    snap.time = t += absl::Seconds(1);
    CHECK(Find(watch.Process(snap), SignalKind::kUpdateSpike) == nullptr);
  }
}

}  // namespace
}  // namespace pgwarden
