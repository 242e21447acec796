#include "signals/wal_archive.h"

#include "absl/strings/match.h"
#include "catch2/catch.hpp"
#include "tests/signals/test_time.h"

namespace pgwarden {
namespace {

using testing::kT0;

Snapshot At(int second, int64_t archived, int64_t failed, int last_ok, int last_fail, uint64_t lsn,
            bool enabled = true) {
  Snapshot s;
  s.time = kT0 + absl::Seconds(second);
  s.server_time = s.time;
  s.wal_lsn = lsn;
  s.archiver.enabled = enabled;
  s.archiver.archived = archived;
  s.archiver.failed = failed;
  s.archiver.last_archived = last_ok < 0 ? absl::InfinitePast() : kT0 + absl::Seconds(last_ok);
  s.archiver.last_failed = last_fail < 0 ? absl::InfinitePast() : kT0 + absl::Seconds(last_fail);
  return s;
}

TEST_CASE("wal archive: repeated failures page until an attempt succeeds") {
  WalArchiveWatch w;
  std::vector<SignalEvent> ev;
  w.Observe(At(0, 10, 0, 0, -1, 1000), &ev);
  w.Observe(At(1, 10, 2, 0, 1, 1000), &ev);
  CHECK(ev.empty());  // two failures: not yet
  w.Observe(At(2, 10, 3, 0, 2, 1000), &ev);
  REQUIRE(ev.size() == 1);
  CHECK(ev[0].kind == SignalKind::kWalArchive);
  CHECK(ev[0].severity == Severity::kCritical);
  CHECK(ev[0].figures["healthy"] == false);
  CHECK_FALSE(w.healthy());
  w.Observe(At(3, 11, 3, 3, 2, 1000), &ev);  // archived again
  CHECK(ev.size() == 1);
  CHECK(w.healthy());
  CHECK(w.Health()["healthy"] == true);
}

TEST_CASE("wal archive: a failing archive at the agent's start pages at the next failure") {
  WalArchiveWatch w;
  std::vector<SignalEvent> ev;
  w.Observe(At(0, 5, 40, 0, 100, 1000), &ev);
  CHECK(ev.empty());
  w.Observe(At(101, 5, 41, 0, 101, 1000), &ev);
  CHECK(ev.size() == 1);
}

TEST_CASE("wal archive: stale only while WAL is written, never with archive_mode off") {
  WalArchiveOptions o;
  o.max_age = absl::Minutes(15);
  WalArchiveWatch w(o);
  std::vector<SignalEvent> ev;
  w.Observe(At(0, 5, 0, 0, -1, 1000), &ev);
  w.Observe(At(20 * 60, 5, 0, 0, -1, 1000 + (1 << 20)), &ev);  // 1 MiB: no segment full
  CHECK(ev.empty());
  w.Observe(At(21 * 60, 5, 0, 0, -1, 1000 + (40 << 20)), &ev);  // 40 MiB, none archived
  REQUIRE(ev.size() == 1);
  CHECK(absl::StrContains(ev[0].description, "stale"));
  WalArchiveWatch off;
  std::vector<SignalEvent> none;
  off.Observe(At(0, 0, 0, -1, -1, 1000, false), &none);
  off.Observe(At(3600, 0, 50, -1, 3600, 1000 + (400 << 20), false), &none);
  CHECK(none.empty());
  CHECK(off.Health()["enabled"] == false);
  CHECK(off.Health()["problem"].is_string());
}

}  // namespace
}  // namespace pgwarden
