// The sampler against a real PostgreSQL 15: the per-table query is skipped
// while the database's row counters stand still, and every kind of change a
// detector needs makes the next samples read the tables again.

#include <algorithm>
#include <functional>
#include <string>

#include "absl/time/clock.h"
#include "catch2/catch.hpp"
#include "devtools/local_postgres.h"
#include "sources/pg_sampler.h"

namespace pgwarden {
namespace {

const TableStat* Find(const Snapshot& s, const std::string& name) {
  auto it = std::find_if(s.tables.begin(), s.tables.end(),
                         [&](const TableStat& t) { return t.name == name; });
  return it == s.tables.end() ? nullptr : &*it;
}

// SampleUntil samples every 100 ms for at most 5 s until `done` holds,
// returning whether it did; *reread counts the samples that read the tables.
bool SampleUntil(PgSampler& sampler, const std::function<bool(const Snapshot&)>& done,
                 int* reread = nullptr) {
  for (int i = 0; i < 50; ++i) {
    absl::StatusOr<Snapshot> s = sampler.Sample(absl::Now());
    REQUIRE(s.ok());
    if (reread != nullptr && s->tables_reread) ++*reread;
    if (done(*s)) return true;
    absl::SleepFor(absl::Milliseconds(100));
  }
  return false;
}

bool Quiet(const Snapshot& s) { return !s.tables_reread && !s.database_changed; }

TEST_CASE("Sampler: the per-table query is skipped while nothing changes and every change is seen",
          "[integration][sampler]") {
  auto pg = LocalPostgres::Start();
  REQUIRE(pg.ok());
  REQUIRE((*pg)
              ->Psql("CREATE TABLE t (id int PRIMARY KEY, v text); "
                     "INSERT INTO t SELECT g, 'x' FROM generate_series(1, 100) g")
              .ok());
  PgSamplerOptions o;
  o.reread_every = absl::Hours(1);  // only the counters decide here
  PgSampler sampler((*pg)->Dsn("postgres"), TableFilter(), o);
  // The sampler's own queries move nothing: it settles on skipping.
  REQUIRE(SampleUntil(sampler, [](const Snapshot& s) {
    const TableStat* t = Find(s, "t");
    return Quiet(s) && t != nullptr && t->live_rows == 100;
  }));
  // Once settled, it stays settled.
  int reread = 0;
  for (int i = 0; i < 10; ++i) {
    absl::StatusOr<Snapshot> s = sampler.Sample(absl::Now());
    REQUIRE(s.ok());
    CHECK(Find(*s, "t") != nullptr);
    reread += s->tables_reread ? 1 : 0;
    absl::SleepFor(absl::Milliseconds(100));
  }
  CHECK(reread == 0);

  struct Change {
    const char* name;
    const char* sql;
    std::function<bool(const Snapshot&)> seen;
  };
  const Change changes[] = {
      {"DELETE", "DELETE FROM t WHERE id <= 10",
       [](const Snapshot& s) { return Find(s, "t") && Find(s, "t")->live_rows == 90; }},
      // 40 rows (11 to 50) deleted, then rolled back: counted all the same.
      {"rolled-back DELETE", "BEGIN; DELETE FROM t WHERE id <= 50; ROLLBACK",
       [](const Snapshot& s) { return Find(s, "t") && Find(s, "t")->deleted == 50; }},
      {"UPDATE", "UPDATE t SET v = 'y' WHERE id <= 20",
       [](const Snapshot& s) { return Find(s, "t") && Find(s, "t")->updated == 10; }},
      {"CREATE TABLE", "CREATE TABLE u (id int)",
       [](const Snapshot& s) { return Find(s, "u") != nullptr; }},
      {"DROP TABLE", "DROP TABLE u", [](const Snapshot& s) { return Find(s, "u") == nullptr; }},
      {"ALTER TABLE RENAME", "ALTER TABLE t RENAME TO t2",
       [](const Snapshot& s) { return Find(s, "t2") != nullptr; }},
      {"TRUNCATE", "TRUNCATE t2",
       [](const Snapshot& s) { return Find(s, "t2") && Find(s, "t2")->live_rows == 0; }},
  };
  for (const Change& c : changes) {
    INFO(c.name);
    REQUIRE(SampleUntil(sampler, Quiet));
    REQUIRE((*pg)->Psql(c.sql).ok());
    CHECK(SampleUntil(sampler, c.seen));
  }
  // A dropped column moves the counters (pg_attribute): the DDL watch's
  // fingerprint is taken again.
  REQUIRE(SampleUntil(sampler, Quiet));
  REQUIRE((*pg)->Psql("ALTER TABLE t2 DROP COLUMN v").ok());
  CHECK(SampleUntil(sampler, [](const Snapshot& s) { return s.database_changed; }));
}

TEST_CASE("Sampler: reread_every reads the tables while the counters stand still",
          "[integration][sampler]") {
  auto pg = LocalPostgres::Start();
  REQUIRE(pg.ok());
  REQUIRE((*pg)->Psql("CREATE TABLE t (id int)").ok());
  PgSamplerOptions o;
  o.reread_every = absl::Milliseconds(500);
  PgSampler sampler((*pg)->Dsn("postgres"), TableFilter(), o);
  REQUIRE(SampleUntil(sampler, Quiet));
  // Settled: over 3 s at 10 samples a second, a read every 500 ms.
  int reread = 0;
  bool settled = true;
  for (int i = 0; i < 30; ++i) {
    absl::StatusOr<Snapshot> s = sampler.Sample(absl::Now());
    REQUIRE(s.ok());
    settled = settled && !s->database_changed;
    reread += s->tables_reread ? 1 : 0;
    absl::SleepFor(absl::Milliseconds(100));
  }
  REQUIRE(settled);
  CHECK(reread >= 4);
  CHECK(reread <= 8);
}

}  // namespace
}  // namespace pgwarden
