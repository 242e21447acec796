#include "signals/recovery.h"

#include "catch2/catch.hpp"
#include "incidents/grouping.h"
#include "tests/signals/test_time.h"

namespace pgwarden {
namespace {

using testing::kT0;

// Ticks builds a snapshot per second: the WAL advances 1000 bytes a tick,
// the table's delete counter as `deleted(i)` says.
class Ticks {
 public:
  Snapshot At(int i, int64_t deleted, int64_t relfilenode = 100) {
    Snapshot s;
    s.time = kT0 + absl::Seconds(i);
    s.server_time = s.time;
    s.wal_lsn = 1000 * static_cast<uint64_t>(i + 1);
    TableStat t;
    t.oid = 1;
    t.relfilenode = relfilenode;
    t.schema = "public";
    t.name = "orders";
    t.live_rows = 100000 - deleted;
    t.deleted = deleted;
    s.tables.push_back(t);
    return s;
  }
};

SignalEvent Loss(int i, int64_t before, int64_t now, SignalKind kind = SignalKind::kRowLoss) {
  SignalEvent ev;
  ev.kind = kind;
  ev.schema = "public";
  ev.table = "orders";
  ev.time = kT0 + absl::Seconds(i);
  ev.figures = {{"rows_before", before}, {"rows_now", now}};
  return ev;
}

CommittedTxn Txn(uint32_t xid, int second, uint64_t last_change, int64_t deleted) {
  CommittedTxn t;
  t.xid = xid;
  t.commit_time = kT0 + absl::Seconds(second);
  t.last_change_lsn = last_change;
  t.commit_lsn = last_change + 50;
  TableChange c;
  c.schema = "public";
  c.table = "orders";
  c.deleted = deleted;
  t.tables.push_back(c);
  return t;
}

TEST_CASE(
    "recovery: from the statistics, the bound lies before the first moved tick, less the "
    "publication delay") {
  RecoveryTracker tracker;
  Ticks ticks;
  // Quiet for 60 ticks (2 deletes a tick), then 1,000 deletes a tick from
  // tick 60 to 69.
  int64_t deleted = 0;
  for (int i = 0; i < 70; ++i) {
    deleted += i < 60 ? 2 : 1000;
    tracker.ObserveSample(ticks.At(i, deleted));
  }
  auto p = tracker.For(Loss(69, 100000, 90000));
  REQUIRE(p.has_value());
  CHECK_FALSE(p->exact);
  CHECK(p->basis == "statistics");
  // First moved tick 60; the tick before it is 59; 11 s before: tick 48.
  CHECK(p->lsn == uint64_t{1000} * 49);
  CHECK(p->time == kT0 + absl::Seconds(48));
  const nlohmann::json j = p->ToJson();
  CHECK(j["target_lsn"] == "0/BF68");
  CHECK(j["first_destructive_xid"].is_null());
  CHECK(j["exact"] == false);
}

TEST_CASE(
    "recovery: batches paused longer than the burst gap are walked back until they cover the "
    "rows lost") {
  RecoveryTracker tracker;
  Ticks ticks;
  // 5,000 rows deleted at ticks 30, 40 and 50 (10 s apart).
  int64_t deleted = 0;
  for (int i = 0; i < 52; ++i) {
    if (i == 30 || i == 40 || i == 50) deleted += 5000;
    tracker.ObserveSample(ticks.At(i, deleted));
  }
  // The signal says 15,000 rows lost: all three batches.
  auto all = tracker.For(Loss(51, 100000, 85000));
  REQUIRE(all.has_value());
  CHECK(all->lsn == uint64_t{1000} * (29 - 11 + 1));
  // Were only 5,000 lost, the last batch alone would do.
  auto last = tracker.For(Loss(51, 100000, 95000));
  REQUIRE(last.has_value());
  CHECK(last->lsn == uint64_t{1000} * (49 - 11 + 1));
}

TEST_CASE(
    "recovery: a TRUNCATE is the tick whose file changed and a DROP the tick before the "
    "signal") {
  RecoveryTracker tracker;
  Ticks ticks;
  for (int i = 0; i < 40; ++i) tracker.ObserveSample(ticks.At(i, 0, i < 35 ? 100 : 200));
  auto p = tracker.For(Loss(39, 100000, 0, SignalKind::kTruncate));
  REQUIRE(p.has_value());
  CHECK(p->lsn == uint64_t{1000} * (34 - 11 + 1));
  SignalEvent drop = Loss(39, 100000, 0, SignalKind::kDropTable);
  drop.table = "gone";
  auto d = tracker.For(drop);
  REQUIRE(d.has_value());
  CHECK(d->lsn == uint64_t{1000} * (38 - 11 + 1));
}

TEST_CASE("recovery: the change stream names the first destructive transaction exactly") {
  RecoveryTracker tracker;
  Ticks ticks;
  for (int i = 0; i < 30; ++i) tracker.ObserveSample(ticks.At(i, 0));
  // An old single delete (innocent, 20 s before), then a burst of batches.
  tracker.ObserveTxns({Txn(700, 5, 5000, 1)});
  tracker.ObserveTxns({Txn(710, 25, 25000, 1000), Txn(711, 26, 26000, 1000)});
  tracker.ObserveTxns({Txn(712, 27, 27000, 1000)});
  auto p = tracker.For(Loss(29, 100000, 97000, SignalKind::kDeleteSpike));
  REQUIRE(p.has_value());
  CHECK(p->exact);
  CHECK(p->basis == "change_stream");
  CHECK(p->xid == 710);
  CHECK(p->lsn == 25000);
  CHECK(p->ToJson()["first_destructive_xid"] == 710);
  // After a coverage gap the stream's history is gone: a bound again.
  tracker.StreamGap();
  auto q = tracker.For(Loss(29, 100000, 97000, SignalKind::kDeleteSpike));
  REQUIRE(q.has_value());
  CHECK_FALSE(q->exact);
}

TEST_CASE("recovery: a stream history that forgot the burst's start falls back to the statistics") {
  RecoveryOptions o;
  o.max_txns = 4;
  RecoveryTracker tracker(o);
  Ticks ticks;
  for (int i = 0; i < 30; ++i) tracker.ObserveSample(ticks.At(i, 0));
  for (uint32_t k = 0; k < 10; ++k) tracker.ObserveTxns({Txn(800 + k, 20, 20000 + k, 100)});
  auto p = tracker.For(Loss(29, 100000, 99000));  // 1,000 lost, 400 remembered
  REQUIRE(p.has_value());
  CHECK_FALSE(p->exact);
}

TEST_CASE("recovery: non-destructive kinds have none, and a young ring says so") {
  RecoveryTracker tracker;
  Ticks ticks;
  SignalEvent logins;
  logins.kind = SignalKind::kFailedLogins;
  CHECK_FALSE(tracker.For(Loss(0, 10, 0)).has_value());  // no tick yet
  tracker.ObserveSample(ticks.At(0, 0));
  CHECK_FALSE(tracker.For(logins).has_value());
  auto p = tracker.For(Loss(1, 100000, 0));
  REQUIRE(p.has_value());
  CHECK(p->lsn == 1000);
  CHECK_FALSE(p->note.empty());
}

TEST_CASE("recovery: an incident keeps each table's best point and the earliest overall") {
  Incident inc;
  RecoveryPoint a;
  a.lsn = 5000;
  a.basis = "statistics";
  MergeRecovery("public.a", a.ToJson(), &inc);
  RecoveryPoint exact_a;
  exact_a.lsn = 7000;
  exact_a.exact = true;
  exact_a.xid = 9;
  exact_a.basis = "change_stream";
  MergeRecovery("public.a", exact_a.ToJson(), &inc);  // exact replaces a bound
  CHECK(inc.details["recovery"]["by_table"]["public.a"]["exact"] == true);
  RecoveryPoint b;
  b.lsn = 6000;
  b.basis = "statistics";
  MergeRecovery("public.b", b.ToJson(), &inc);
  // Overall: the earliest of the tables' points (public.b's 6000 < 7000).
  CHECK(inc.details["recovery"]["target_lsn"] == FormatLsn(6000));
  CHECK(inc.details["recovery"]["by_table"].size() == 2);
  RecoveryPoint later;
  later.lsn = 9000;
  later.basis = "statistics";
  MergeRecovery("public.b", later.ToJson(), &inc);  // a later bound does not move it
  CHECK(inc.details["recovery"]["by_table"]["public.b"]["target_lsn"] == FormatLsn(6000));
}

}  // namespace
}  // namespace pgwarden
