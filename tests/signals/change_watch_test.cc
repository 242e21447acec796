#include "signals/change_watch.h"

#include "absl/strings/match.h"
#include "catch2/catch.hpp"

namespace pgwarden {
namespace {

DetectorFactories Factories() {
  DetectorFactories f;
  f.rows = *MakeDetectorFactory("level_drop", {});
  f.delete_rate = *MakeDetectorFactory("rate_spike", {});
  return f;
}

// Fixture drives a ChangeWatch over one table "public.customers" of
// 1,000,000 rows, evaluated every 250 ms.
struct Fixture {
  explicit Fixture(ChangeSource source = ChangeSource::kStream) : watch(source, Factories()) {
    TableStat s;
    s.oid = 16384;
    s.schema = "public";
    s.name = "customers";
    s.live_rows = 1000000;
    snap.tables = {s};
    watch.SyncTables(snap);
  }
  ChangeWatch watch;
  Snapshot snap;
  absl::Time t = absl::FromUnixSeconds(1700000000);
  uint32_t xid = 700;

  static TableChange Change(int64_t deleted, int64_t inserted = 0, bool truncated = false) {
    TableChange c;
    c.schema = "public";
    c.table = "customers";
    c.deleted = deleted;
    c.inserted = inserted;
    c.truncated = truncated;
    return c;
  }
  // Commit adds one committed transaction of the stream.
  void Commit(const TableChange& c) {
    CommittedTxn txn;
    txn.xid = ++xid;
    txn.commit_lsn = 0x1000000ULL + xid;
    txn.commit_time = t;
    txn.tables = {c};
    watch.AddTransactions({txn});
  }
  WatchResult Tick() {
    t += absl::Milliseconds(250);
    WatchResult out;
    watch.Evaluate(t, &out);
    return out;
  }
  // Churn runs `ticks` evaluations of normal traffic: a few inserts and
  // deletes per tick.
  int Churn(int ticks) {
    int events = 0;
    for (int i = 0; i < ticks; ++i) {
      Commit(Change(i % 3, 3));
      events += static_cast<int>(Tick().events.size());
    }
    return events;
  }
};

bool Has(const WatchResult& r, SignalKind kind) {
  for (const SignalEvent& ev : r.events) {
    if (ev.kind == kind) return true;
  }
  return false;
}

TEST_CASE("ChangeWatch: normal churn from the stream never fires") {
  Fixture f;
  CHECK(f.Churn(600) == 0);
}

TEST_CASE("ChangeWatch: a cleanup script fires on its first committed batches") {
  Fixture f;
  REQUIRE(f.Churn(60) == 0);
  f.watch.ObserveSessions(f.t, {XidSession{f.xid + 1, 4242, "cleanup", "psql", "10.0.0.7"}});
  f.Commit(Fixture::Change(1000));
  WatchResult first = f.Tick();
  REQUIRE(Has(first, SignalKind::kDeleteSpike));
  const SignalEvent& ev = first.events.front();
  CHECK(ev.table == "customers");
  const nlohmann::json& e = ev.figures["evidence"];
  INFO(ev.figures.dump());
  CHECK(e["source"] == "change_stream");
  CHECK(e["rows_by_role"]["cleanup"] == 1000);
  CHECK(e["committed_by"][0]["pid"] == 4242);
  CHECK(e["xids"][0] == f.xid);
  CHECK(e.contains("first_commit_lsn"));
  CHECK(e["rows_by_role"].size() == 1);  // the churn before it is not evidence
  // Two more batches: the level has lost 3,000 rows (0.3 %): row loss.
  f.Commit(Fixture::Change(1000));
  f.Tick();
  f.Commit(Fixture::Change(1000));
  WatchResult third = f.Tick();
  REQUIRE(Has(third, SignalKind::kRowLoss));
  for (const SignalEvent& r : third.events) {
    if (r.kind == SignalKind::kRowLoss) {
      CHECK(r.figures["rows_lost"].get<int64_t>() >= 3000);
      CHECK(r.figures["rows_lost"].get<int64_t>() <= 3000 + 3 * 60);  // churn inserts
      CHECK(r.figures["evidence"]["rows_by_role"]["(unknown)"] == 2000);
    }
  }
}

TEST_CASE("ChangeWatch: a committed TRUNCATE fires at once") {
  Fixture f;
  f.Commit(Fixture::Change(0, 0, true));
  WatchResult r = f.Tick();
  REQUIRE(Has(r, SignalKind::kTruncate));
  CHECK(r.events.front().figures["rows_before"] == 1000000);
  CHECK(absl::StrContains(r.events.front().description, "truncated"));
}

TEST_CASE("ChangeWatch: events of one table are spaced, not repeated every tick") {
  Fixture f;
  REQUIRE(f.Churn(60) == 0);
  int spikes = 0;
  for (int i = 0; i < 4; ++i) {  // one second of a 5,000 rows/s script
    f.Commit(Fixture::Change(1250));
    for (const SignalEvent& ev : f.Tick().events) spikes += ev.kind == SignalKind::kDeleteSpike;
  }
  CHECK(spikes == 1);
}

TEST_CASE("ChangeWatch: the statement source has no level, only the delete rate") {
  Fixture f(ChangeSource::kStatements);
  for (int i = 0; i < 60; ++i) f.Tick();
  TableChange c = Fixture::Change(1000);
  c.role = "cleanup";
  f.watch.AddChanges({c});
  WatchResult r = f.Tick();
  REQUIRE(Has(r, SignalKind::kDeleteSpike));
  CHECK_FALSE(Has(r, SignalKind::kRowLoss));
  CHECK(r.events.front().figures["evidence"]["rows_by_role"]["cleanup"] == 1000);
  CHECK(r.events.front().figures["evidence"]["source"] == "statements");
}

TEST_CASE("ChangeWatch: changes to tables not watched are ignored") {
  Fixture f;
  REQUIRE(f.Churn(60) == 0);
  TableChange c = Fixture::Change(50000);
  c.table = "other";
  f.Commit(c);
  CHECK(f.Tick().events.empty());
}

TEST_CASE("ChangeWatch: a table gone from the snapshot is forgotten") {
  Fixture f;
  REQUIRE(f.watch.tables() == 1);
  f.snap.tables.clear();
  f.watch.SyncTables(f.snap);
  CHECK(f.watch.tables() == 0);
}

TEST_CASE("ChangeWatch: a silenced table's events are suppressed with the reason") {
  ChangeWatch watch(ChangeSource::kStream, Factories(),
                    [](const std::string&, const std::string&, absl::Time) {
                      return std::string("maintenance window nightly");
                    });
  Snapshot snap;
  TableStat s;
  s.oid = 1;
  s.schema = "public";
  s.name = "customers";
  s.live_rows = 1000;
  snap.tables = {s};
  watch.SyncTables(snap);
  CommittedTxn txn;
  txn.xid = 9;
  txn.tables = {Fixture::Change(0, 0, true)};
  watch.AddTransactions({txn});
  WatchResult r;
  watch.Evaluate(absl::FromUnixSeconds(1700000000), &r);
  CHECK(r.events.empty());
  REQUIRE(r.suppressed.size() == 1);
  CHECK(r.suppressed[0].second == "maintenance window nightly");
}

}  // namespace
}  // namespace pgwarden
