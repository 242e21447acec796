#include "signals/partitions.h"

#include "absl/strings/match.h"
#include "catch2/catch.hpp"
#include "tests/signals/test_time.h"

namespace pgwarden {
namespace {

using testing::kT0;

TableStat Table(int64_t oid, const std::string& name, const std::string& parent = "") {
  TableStat t;
  t.oid = oid;
  t.schema = "public";
  t.name = name;
  t.live_rows = 10000;
  if (!parent.empty()) {
    t.parent_schema = "public";
    t.parent_name = parent;
  }
  return t;
}

SignalEvent Loss(int64_t oid, const std::string& table) {
  SignalEvent ev;
  ev.kind = SignalKind::kRowLoss;
  ev.schema = "public";
  ev.table = table;
  ev.oid = oid;
  ev.description = "table public." + table + " lost 2,000 of 10,000 rows";
  ev.figures = {{"rows_lost", 2000}};
  return ev;
}

TEST_CASE("partitions: a partition's events speak of its partitioned table") {
  PartitionMap map;
  std::vector<SignalEvent> none;
  map.Update({Table(1, "events_p0", "events"), Table(2, "events_p1", "events"), Table(3, "users")},
             kT0, &none);
  CHECK(none.empty());
  CHECK(map.size() == 2);
  std::vector<SignalEvent> events = {Loss(1, "events_p0"), Loss(2, "events_p1"), Loss(3, "users")};
  map.RollUp(&events);
  CHECK(events[0].table == "events");
  CHECK(events[0].figures["partition"] == "public.events_p0");
  CHECK(absl::StartsWith(events[0].description,
                         "partitioned table public.events, partition public.events_p0: table"));
  CHECK(events[1].table == "events");
  CHECK(events[2].table == "users");  // not a partition
  CHECK_FALSE(events[2].figures.contains("partition"));
  // Rolling up twice changes nothing.
  map.RollUp(&events);
  CHECK(events[0].figures["partition"] == "public.events_p0");
  // The session guard names tables without oids.
  std::vector<SignalEvent> named = {Loss(0, "events_p1")};
  map.RollUp(&named);
  CHECK(named[0].table == "events");
  // Same oid, another name (a stale event): left alone.
  std::vector<SignalEvent> stale = {Loss(1, "renamed")};
  map.RollUp(&stale);
  CHECK(stale[0].table == "renamed");
}

TEST_CASE("partitions: a dropped partition still rolls up, a detached one is reported") {
  PartitionMap map;
  std::vector<SignalEvent> out;
  map.Update({Table(1, "events_p0", "events"), Table(2, "events_p1", "events")}, kT0, &out);
  // events_p1 dropped, events_p0 detached (a table of its own now).
  map.Update({Table(1, "events_p0")}, kT0 + absl::Seconds(1), &out);
  REQUIRE(out.size() == 1);
  CHECK(out[0].kind == SignalKind::kDestructiveDdl);
  CHECK(out[0].table == "events");
  CHECK(out[0].figures["change"] == "detach_partition");
  CHECK(out[0].figures["partition"] == "public.events_p0");
  CHECK(absl::StrContains(out[0].description, "partition public.events_p0 detached"));
  SignalEvent drop = Loss(2, "events_p1");
  drop.kind = SignalKind::kDropTable;
  std::vector<SignalEvent> events = {drop, Loss(1, "events_p0")};
  map.RollUp(&events);
  CHECK(events[0].table == "events");  // the drop, from the last snapshot
  CHECK(events[1].table == "events");  // this tick: about its time as a partition
  // Reported once; from the next snapshot on, a table of its own.
  out.clear();
  map.Update({Table(1, "events_p0")}, kT0 + absl::Seconds(2), &out);
  CHECK(out.empty());
  std::vector<SignalEvent> later = {Loss(1, "events_p0")};
  map.RollUp(&later);
  CHECK(later[0].table == "events_p0");
}

}  // namespace
}  // namespace pgwarden
