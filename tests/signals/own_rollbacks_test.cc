// The rollback ratio never counts the agent's own failed statements.

#include "agent/config.h"
#include "catch2/catch.hpp"
#include "signals/table_watch.h"

namespace pgwarden {
namespace {

TargetWatch MakeWatch() {
  DetectorFactories f;
  f.rollback_ratio = *MakeDetectorFactory("ratio", {});
  return TargetWatch(f);
}

int RollbackPages(TargetWatch& watch, Snapshot& snap, int ticks, int64_t rollbacks_per_tick,
                  int64_t own_per_tick) {
  int pages = 0;
  for (int i = 0; i < ticks; ++i) {
    snap.time += absl::Seconds(1);
    snap.db.xact_commit += 30;
    snap.db.xact_rollback += rollbacks_per_tick;
    snap.db.own_rollbacks += own_per_tick;
    for (const SignalEvent& e : watch.Process(snap).events) {
      pages += e.kind == SignalKind::kRollbackRatio;
    }
  }
  return pages;
}

TEST_CASE("TargetWatch: the agent's own rollbacks never move the rollback ratio", "[table_watch]") {
  TargetWatch watch = MakeWatch();
  Snapshot snap;
  snap.database = "shop";
  snap.time = absl::FromUnixSeconds(1700000000);
  // Two minutes of a quiet database, then a minute in which every rollback
  // is the agent's own (20 a second against 30 commits).
  CHECK(RollbackPages(watch, snap, 120, 0, 0) == 0);
  CHECK(RollbackPages(watch, snap, 60, 20, 20) == 0);
  CHECK(watch.rollback_ratio_score() == 0.0);
  // The same rollbacks from the application page.
  CHECK(RollbackPages(watch, snap, 5, 20, 0) >= 1);
}

}  // namespace
}  // namespace pgwarden
