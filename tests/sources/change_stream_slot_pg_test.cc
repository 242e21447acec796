// The change stream's slot on a real PostgreSQL 15: refusal with unbounded
// WAL retention, audited creation and undo, the slot tools, exactly-once
// counts across simulated crashes, and an invalidated slot.

#include <memory>
#include <string>

#include "absl/strings/match.h"
#include "core/clock.h"
#include "pg/connect.h"
#include "remediation/audit.h"
#include "remediation/undo.h"
#include "sources/change_stream.h"
#include "sources/slot_tools.h"
#include "tests/sources/change_stream_test_util.h"

namespace pgwarden {
namespace {

using testing::LsnOf;
using testing::SlotField;
using testing::StartLogicalPostgres;
using testing::Streaming;
using testing::StreamOptions;
using testing::TempDir;
using testing::WaitFor;

std::unique_ptr<pg::Session> Connect(const LocalPostgres& pg) {
  auto s = pg::Connect(pg.Dsn("postgres"), pg::ConnectOptions{});
  REQUIRE(s.ok());
  return std::move(*s);
}

TEST_CASE("an unbounded max_slot_wal_keep_size refuses the slot unless allowed, audited and undone",
          "[integration][change_stream]") {
  auto pg = StartLogicalPostgres("-1");
  const std::string dir = TempDir();
  ChangeStreamOptions o = StreamOptions(*pg, dir);
  {
    ChangeStream refused(o);
    refused.Start();
    REQUIRE(WaitFor([&] { return refused.status().state == "refused"; }, absl::Seconds(10)));
    const std::string why = refused.status().last_error;
    CHECK(absl::StrContains(why, "max_slot_wal_keep_size = -1"));
    CHECK(absl::StrContains(why, "change_stream.allow_unbounded_retention: true"));
    CHECK_FALSE(refused.status().up);
    const absl::Time t0 = absl::Now();
    refused.Stop();
    CHECK(absl::Now() - t0 < absl::Seconds(2));
  }
  CHECK(SlotField(*pg, "count(*)") == "0");

  auto conn = Connect(*pg);
  auto report = InspectSlot(*conn, o.slot);
  REQUIRE(report.ok());
  CHECK(report->wal_level == "logical");
  CHECK(report->can_replicate);
  CHECK(report->unbounded_retention);
  CHECK_FALSE(report->exists);

  o.allow_unbounded_retention = true;
  ChangeStream stream(o);
  stream.Start();
  REQUIRE(WaitFor([&] { return Streaming(stream); }, absl::Seconds(10)));
  auto records = AuditLog::ReadAll(o.audit_path);
  REQUIRE(records.ok());
  REQUIRE(records->size() == 1);
  const AuditRecord& created = (*records)[0];
  CHECK(created.action == ActionKind::kCreateSlot);
  CHECK(created.result == ActionResult::kDone);
  CHECK(created.target == "shop");
  CHECK(created.sql ==
        "SELECT pg_create_logical_replication_slot('pgwarden_test', 'test_decoding')");
  CHECK(created.undo_sql == "SELECT pg_drop_replication_slot('pgwarden_test')");

  report = InspectSlot(*conn, o.slot);
  REQUIRE(report.ok());
  CHECK(report->exists);
  CHECK(report->plugin == "test_decoding");
  CHECK(WaitFor([&] { return InspectSlot(*conn, o.slot)->active; }, absl::Seconds(5)));

  // Active: neither the slot tool nor undo drops it.
  auto drop = DropSlot(*conn, o.slot, false, o.audit_path, "shop", "test", absl::Now());
  CHECK(drop.status().code() == absl::StatusCode::kFailedPrecondition);
  CHECK(absl::StrContains(drop.status().message(), "active"));
  auto undo_active = Undo(*conn, o.audit_path, created.id, RealClock::Get());
  CHECK_FALSE(undo_active.ok());
  CHECK(absl::StrContains(undo_active.status().message(), "active"));

  stream.Stop();
  REQUIRE(WaitFor([&] { return !InspectSlot(*conn, o.slot)->active; }, absl::Seconds(5)));
  auto dry = DropSlot(*conn, o.slot, true, o.audit_path, "shop", "test", absl::Now());
  REQUIRE(dry.ok());
  CHECK(dry->result == ActionResult::kDryRun);
  CHECK(dry->sql == "SELECT pg_drop_replication_slot('pgwarden_test')");
  CHECK(SlotField(*pg, "count(*)") == "1");
  auto undone = Undo(*conn, o.audit_path, created.id, RealClock::Get());
  REQUIRE(undone.ok());
  CHECK(SlotField(*pg, "count(*)") == "0");
}

// Deletes `n` rows of t in `txns` transactions of n/txns rows each.
void DeleteRows(const LocalPostgres& pg, int* next_id, int n, int txns) {
  for (int i = 0; i < txns; ++i) {
    const int from = *next_id;
    *next_id += n / txns;
    REQUIRE(pg.Psql(absl::StrCat("DELETE FROM t WHERE id >= ", from, " AND id < ", *next_id)).ok());
  }
}

TEST_CASE("counts are exact across crashes after and before persisting the position",
          "[integration][change_stream]") {
  auto pg = StartLogicalPostgres("64MB");
  REQUIRE(
      pg->Psql("CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t SELECT generate_series(1, 1000)")
          .ok());
  const std::string dir = TempDir();
  ChangeStreamOptions o = StreamOptions(*pg, dir);
  o.status_interval = absl::Seconds(60);  // nothing confirmed unless asked
  int next = 1;
  {
    ChangeStream first(o);
    first.Start();
    REQUIRE(WaitFor([&] { return Streaming(first); }, absl::Seconds(10)));
    DeleteRows(*pg, &next, 100, 10);
    REQUIRE(WaitFor([&] { return first.counts().deleted == 100; }, absl::Seconds(10)));
    first.CrashForTesting(ChangeStream::CrashPoint::kAfterPersist);
    first.Stop();
  }
  // The state file has the position, the server does not.
  const uint64_t confirmed = LsnOf(SlotField(*pg, "confirmed_flush_lsn"));
  {
    ChangeStream second(o);
    second.Start();
    CHECK(second.counts().deleted == 100);
    REQUIRE(WaitFor([&] { return Streaming(second); }, absl::Seconds(10)));
    DeleteRows(*pg, &next, 50, 5);
    REQUIRE(WaitFor([&] { return second.counts().deleted == 150; }, absl::Seconds(10)));
    absl::SleepFor(absl::Milliseconds(1500));
    CHECK(second.counts().deleted == 150);
    CHECK(second.counts().duplicates_skipped >= 10);
    second.CrashForTesting(ChangeStream::CrashPoint::kBeforePersist);
    second.Stop();
  }
  CHECK(LsnOf(SlotField(*pg, "confirmed_flush_lsn")) == confirmed);
  o.status_interval = absl::Seconds(1);
  ChangeStream third(o);
  third.Start();
  CHECK(third.counts().deleted == 100);  // the second stream never persisted
  REQUIRE(WaitFor([&] { return Streaming(third); }, absl::Seconds(10)));
  DeleteRows(*pg, &next, 20, 2);
  REQUIRE(WaitFor([&] { return third.counts().deleted == 170; }, absl::Seconds(10)));
  absl::SleepFor(absl::Milliseconds(1500));
  const ChangeCounts c = third.counts();
  CHECK(c.deleted == 170);
  CHECK(c.transactions == 17);
  CHECK(WaitFor([&] { return LsnOf(SlotField(*pg, "confirmed_flush_lsn")) > confirmed; },
                absl::Seconds(5)));
  third.Stop();
  // A clean stop persisted everything: a fresh stream sees the same counts.
  ChangeStream fourth(o);
  fourth.Start();
  CHECK(fourth.counts().deleted == 170);
  fourth.Stop();
}

TEST_CASE("an invalidated slot is dropped, recreated and reported once as a gap",
          "[integration][change_stream]") {
  auto pg = StartLogicalPostgres("1MB");
  REQUIRE(pg->Psql("CREATE TABLE t (id int); CREATE TABLE fill (v text)").ok());
  const std::string dir = TempDir();
  ChangeStreamOptions o = StreamOptions(*pg, dir);
  {
    ChangeStream stream(o);
    stream.Start();
    REQUIRE(WaitFor([&] { return Streaming(stream); }, absl::Seconds(10)));
    REQUIRE(pg->Psql("INSERT INTO t VALUES (1)").ok());
    REQUIRE(WaitFor([&] { return stream.counts().inserted == 1; }, absl::Seconds(10)));
    stream.Stop();
  }
  REQUIRE(WaitFor([&] { return SlotField(*pg, "active") == "f"; }, absl::Seconds(5)));
  bool lost = false;
  for (int i = 0; i < 20 && !lost; ++i) {
    REQUIRE(
        pg->Psql("INSERT INTO fill SELECT repeat('x', 1000) FROM generate_series(1, 2000)").ok());
    REQUIRE(pg->Psql("SELECT pg_switch_wal()").ok());
    REQUIRE(pg->Psql("CHECKPOINT").ok());
    lost = SlotField(*pg, "wal_status") == "lost";
  }
  REQUIRE(lost);

  ChangeStream stream(o);
  stream.Start();
  REQUIRE(WaitFor([&] { return Streaming(stream); }, absl::Seconds(15)));
  std::vector<CoverageGap> gaps = stream.DrainGaps();
  REQUIRE(gaps.size() == 1);
  CHECK(gaps[0].slot == "pgwarden_test");
  CHECK(absl::StrContains(gaps[0].reason, "invalidated"));
  CHECK(SlotField(*pg, "wal_status") != "lost");
  REQUIRE(pg->Psql("INSERT INTO t VALUES (2)").ok());
  REQUIRE(WaitFor([&] { return stream.counts().inserted == 2; }, absl::Seconds(10)));
  CHECK(stream.DrainGaps().empty());
  stream.Stop();

  auto records = AuditLog::ReadAll(o.audit_path);
  REQUIRE(records.ok());
  REQUIRE(records->size() == 3);
  CHECK((*records)[0].action == ActionKind::kCreateSlot);
  CHECK((*records)[1].action == ActionKind::kDropSlot);
  CHECK((*records)[1].result == ActionResult::kDone);
  CHECK((*records)[2].action == ActionKind::kCreateSlot);
}

}  // namespace
}  // namespace pgwarden
