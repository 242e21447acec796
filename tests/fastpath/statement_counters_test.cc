#include "fastpath/statement_counters.h"

#include <string>
#include <vector>

#include "absl/strings/cord.h"
#include "absl/strings/match.h"
#include "catch2/catch.hpp"
#include "pg/fake_session.h"

namespace pgwarden {
namespace {

using pg::FakeSession;
using Rows = std::vector<std::vector<absl::optional<std::string>>>;

// Db scripts a FakeSession as a database with pg_stat_statements: roles 10
// (cleanup) and 11 (app), a few statements, and the sessions of each poll.
struct Db {
  FakeSession s;
  double clock = 1000;  // server clock, seconds
  Db() {
    s.On("pg_extension", FakeSession::Rows({{"1"}}));
    s.On("pg_roles", FakeSession::Rows({{"10", "cleanup"}, {"11", "app"}}));
    s.On("pg_class", FakeSession::Rows({{"items", "shop", "1"}}));
    s.On("pg_stat_statements(true)",
         FakeSession::Rows({{"1", "DELETE FROM items WHERE id < $1"},
                            {"2", "UPDATE shop.orders SET state = $1"},
                            {"3", "ROLLBACK"},
                            {"4", "WITH d AS (DELETE FROM a RETURNING *) DELETE FROM b"},
                            {"5", "INSERT INTO shop.log VALUES ($1)"},
                            {"6", "SELECT 1"},
                            {"7", "TRUNCATE shop.tmp"}}));
    Sessions({});
  }
  // Counters sets pg_stat_statements(false): {userid, queryid, calls, rows}.
  void Counters(const std::vector<std::vector<int64_t>>& entries) {
    Rows rows;
    for (const auto& e : entries) {
      rows.push_back({std::to_string(e[0]), std::to_string(e[1]), "t", std::to_string(e[2]),
                      std::to_string(e[3])});
    }
    s.On("pg_stat_statements(false)", FakeSession::Rows(rows));
  }
  // Sessions sets pg_stat_activity: {pid, role, xact_start, multi, last_end};
  // each call advances the server clock by 0.25 s.
  void Sessions(const Rows& sessions) {
    clock += 0.25;
    const std::string now = std::to_string(clock);
    Rows rows;
    for (const auto& r : sessions) rows.push_back({now, r[0], r[1], r[2], r[3], r[4]});
    if (rows.empty()) rows.push_back({now, absl::nullopt, "", "", "f", "0"});
    s.On("pg_stat_activity", FakeSession::Rows(rows));
  }
  // Recent is a time after the previous poll's read, before the next one's.
  std::string Recent() const { return std::to_string(clock + 0.1); }
  int Count(const std::string& part) const {
    int n = 0;
    for (const auto& c : s.calls()) n += absl::StrContains(c.sql, part) ? 1 : 0;
    return n;
  }
};

const TableChange* Find(const std::vector<TableChange>& changes, const std::string& role,
                        const std::string& table) {
  for (const TableChange& c : changes) {
    if (c.role == role && c.table == table) return &c;
  }
  return nullptr;
}

TEST_CASE("statement counters report per role and table the growth since the last poll",
          "[statement_counters]") {
  Db db;
  StatementCounters sc;
  const absl::Time t0 = absl::FromUnixSeconds(1000);
  db.Counters({{10, 1, 5, 5000}, {11, 2, 1, 10}, {11, 6, 9, 9}});
  auto first = sc.Poll(db.s, t0);
  REQUIRE(first.ok());
  CHECK(first->empty());  // baseline only
  CHECK(db.Count("pg_stat_statements(true)") == 0);

  db.Counters({{10, 1, 7, 7000}, {11, 2, 2, 30}, {11, 6, 10, 10}, {11, 5, 1, 4}});
  db.Sessions({});
  auto second = sc.Poll(db.s, t0 + absl::Milliseconds(250));
  REQUIRE(second.ok());
  REQUIRE(second->size() == 3);
  const TableChange* del = Find(*second, "cleanup", "items");
  REQUIRE(del != nullptr);
  CHECK(del->schema == "shop");  // resolved: one table of that name
  CHECK(del->deleted == 2000);
  const TableChange* upd = Find(*second, "app", "orders");
  REQUIRE(upd != nullptr);
  CHECK(upd->updated == 20);
  const TableChange* ins = Find(*second, "app", "log");
  REQUIRE(ins != nullptr);  // a new entry counts in full
  CHECK(ins->inserted == 4);
  CHECK(db.Count("pg_stat_statements(true)") == 1);
  CHECK(sc.stats().counter_rows == 4);

  // Nothing ran: nothing reported, no text fetched again.
  db.Sessions({});
  auto third = sc.Poll(db.s, t0 + absl::Milliseconds(500));
  REQUIRE(third.ok());
  CHECK(third->empty());
  db.Counters({{10, 1, 8, 8000}, {11, 2, 2, 30}, {11, 6, 10, 10}, {11, 5, 1, 4}});
  auto fourth = sc.Poll(db.s, t0 + absl::Milliseconds(750));
  REQUIRE(fourth.ok());
  REQUIRE(fourth->size() == 1);
  CHECK(fourth->front().deleted == 1000);
  CHECK(db.Count("pg_stat_statements(true)") == 1);
  CHECK(db.Count("pg_roles") == 1);
}

TEST_CASE("counter resets and vanished entries re-baseline without a change",
          "[statement_counters]") {
  Db db;
  StatementCounters sc;
  const absl::Time t0 = absl::FromUnixSeconds(1000);
  db.Counters({{10, 1, 5, 5000}, {11, 2, 3, 30}});
  REQUIRE(sc.Poll(db.s, t0).ok());
  db.Counters({{10, 1, 1, 100}});  // entry 1 reset, entry 2 gone
  auto r = sc.Poll(db.s, t0 + absl::Seconds(1));
  REQUIRE(r.ok());
  CHECK(r->empty());
  CHECK(sc.stats().resets == 1);
  CHECK(sc.stats().evicted == 1);
  db.Counters({{10, 1, 2, 600}});  // grows again from the new baseline
  r = sc.Poll(db.s, t0 + absl::Seconds(2));
  REQUIRE(r.ok());
  REQUIRE(r->size() == 1);
  CHECK(r->front().deleted == 500);
}

TEST_CASE("ambiguous statements are skipped and counted, truncates are flagged",
          "[statement_counters]") {
  Db db;
  StatementCounters sc;
  const absl::Time t0 = absl::FromUnixSeconds(1000);
  db.Counters({});
  REQUIRE(sc.Poll(db.s, t0).ok());
  db.Counters({{10, 4, 1, 900}, {10, 7, 1, 0}});
  auto r = sc.Poll(db.s, t0 + absl::Seconds(1));
  REQUIRE(r.ok());
  REQUIRE(r->size() == 1);
  CHECK(r->front().table == "tmp");
  CHECK(r->front().truncated);
  CHECK(sc.stats().ambiguous == 1);
}

TEST_CASE("texts are fetched at most max_texts_per_poll a poll, the rest on the next",
          "[statement_counters]") {
  Db db;
  StatementCountersOptions options;
  options.max_texts_per_poll = 1;
  StatementCounters sc(options);
  const absl::Time t0 = absl::FromUnixSeconds(1000);
  db.Counters({});
  REQUIRE(sc.Poll(db.s, t0).ok());
  db.s.OnSequence("pg_stat_statements(true)",
                  {FakeSession::Rows({{"1", "DELETE FROM items WHERE id < $1"}}),
                   FakeSession::Rows({{"2", "UPDATE shop.orders SET state = $1"}})});
  db.Counters({{10, 1, 1, 100}, {11, 2, 1, 7}});
  auto r = sc.Poll(db.s, t0 + absl::Seconds(1));
  REQUIRE(r.ok());
  REQUIRE(r->size() == 1);
  CHECK(r->front().deleted == 100);
  CHECK(sc.stats().texts_deferred == 1);
  db.Counters({{10, 1, 1, 100}, {11, 2, 2, 9}});  // the deferred one grew meanwhile
  r = sc.Poll(db.s, t0 + absl::Seconds(2));
  REQUIRE(r.ok());
  REQUIRE(r->size() == 1);
  CHECK(r->front().updated == 9);
  REQUIRE(db.s.calls().size() > 0);
  CHECK(db.Count("pg_stat_statements(true)") == 2);
}

TEST_CASE("a write in an open transaction is held until it ends and then released",
          "[statement_counters]") {
  Db db;
  StatementCounters sc;
  const absl::Time t0 = absl::FromUnixSeconds(1000);
  db.Counters({{10, 1, 1, 0}, {10, 3, 1, 1}});
  REQUIRE(sc.Poll(db.s, t0).ok());
  db.Counters({{10, 1, 2, 50000}, {10, 3, 1, 1}});
  db.Sessions({{"77", "cleanup", "990.5", "t", db.Recent()}});
  auto r = sc.Poll(db.s, t0 + absl::Seconds(1));
  REQUIRE(r.ok());
  CHECK(r->empty());
  CHECK(sc.pending() == 1);
  // Still open: still held.
  db.Sessions({{"77", "cleanup", "990.5", "t", "990.6"}});
  r = sc.Poll(db.s, t0 + absl::Seconds(2));
  REQUIRE(r.ok());
  CHECK(r->empty());
  // Committed (no ROLLBACK counted): released.
  db.Sessions({{"77", "cleanup", "", "f", "0"}});
  r = sc.Poll(db.s, t0 + absl::Seconds(3));
  REQUIRE(r.ok());
  REQUIRE(r->size() == 1);
  CHECK(r->front().deleted == 50000);
  CHECK(sc.pending() == 0);
}

TEST_CASE("a held write whose role rolled back is discarded", "[statement_counters]") {
  Db db;
  StatementCounters sc;
  const absl::Time t0 = absl::FromUnixSeconds(1000);
  db.Counters({{10, 1, 1, 0}, {10, 3, 1, 1}});
  REQUIRE(sc.Poll(db.s, t0).ok());
  db.Counters({{10, 1, 2, 50000}, {10, 3, 1, 1}});
  db.Sessions({{"77", "cleanup", "990.5", "t", db.Recent()}});
  REQUIRE(sc.Poll(db.s, t0 + absl::Seconds(1)).ok());
  REQUIRE(sc.pending() == 1);
  db.Counters({{10, 1, 2, 50000}, {10, 3, 2, 2}});  // ROLLBACK ran
  db.Sessions({});
  auto r = sc.Poll(db.s, t0 + absl::Seconds(2));
  REQUIRE(r.ok());
  CHECK(r->empty());
  CHECK(sc.pending() == 0);
  CHECK(sc.pending_stats().discarded_rows == 50000);
  // A write and a ROLLBACK of the same role within one poll: discarded too.
  db.Counters({{10, 1, 3, 60000}, {10, 3, 3, 3}});
  r = sc.Poll(db.s, t0 + absl::Seconds(3));
  REQUIRE(r.ok());
  CHECK(r->empty());
  CHECK(sc.stats().discarded_rows == 10000);
}

TEST_CASE("autocommit writes are released at once, also beside an old open transaction",
          "[statement_counters]") {
  Db db;
  StatementCountersOptions options;
  options.max_pending_age = absl::Seconds(5);
  StatementCounters sc(options);
  const absl::Time t0 = absl::FromUnixSeconds(1000);
  db.Counters({{10, 1, 1, 0}});
  REQUIRE(sc.Poll(db.s, t0).ok());
  // Session 78 of the role has been idle in transaction since before the
  // previous poll: it cannot have made this poll's rows.
  db.Counters({{10, 1, 2, 1000}});
  db.Sessions({{"78", "cleanup", "900.0", "t", "900.1"}});
  auto r = sc.Poll(db.s, t0 + absl::Seconds(1));
  REQUIRE(r.ok());
  REQUIRE(r->size() == 1);
  CHECK(r->front().deleted == 1000);
  // A held change is dropped once older than max_pending_age.
  db.Counters({{10, 1, 3, 2000}});
  db.Sessions({{"79", "cleanup", "990.0", "t", db.Recent()}});
  REQUIRE(sc.Poll(db.s, t0 + absl::Seconds(2)).ok());
  REQUIRE(sc.pending() == 1);
  db.Sessions({{"79", "cleanup", "990.0", "t", "990.1"}});
  r = sc.Poll(db.s, t0 + absl::Seconds(10));
  REQUIRE(r.ok());
  CHECK(r->empty());
  CHECK(sc.pending() == 0);
  CHECK(sc.pending_stats().dropped_stale == 1);
}

TEST_CASE("without pg_stat_statements a poll is empty and available is false",
          "[statement_counters]") {
  Db db;
  db.s.On("pg_extension", FakeSession::Rows({{"0"}}));
  StatementCounters sc;
  const absl::Time t0 = absl::FromUnixSeconds(1000);
  auto r = sc.Poll(db.s, t0);
  REQUIRE(r.ok());
  CHECK(r->empty());
  CHECK_FALSE(sc.available());
  REQUIRE(sc.Poll(db.s, t0 + absl::Seconds(1)).ok());
  CHECK(db.Count("pg_extension") == 1);  // looked for again only after a while
  CHECK(db.Count("pg_stat_statements(false)") == 0);

  // Installed but not loaded: the counters fail with SQLSTATE 55000.
  db.s.On("pg_extension", FakeSession::Rows({{"1"}}));
  absl::Status not_loaded = absl::InternalError("pg_stat_statements must be loaded");
  not_loaded.SetPayload(pg::kSqlStatePayload, absl::Cord("55000"));
  db.s.On("pg_stat_statements(false)", not_loaded);
  r = sc.Poll(db.s, t0 + absl::Minutes(2));
  REQUIRE(r.ok());
  CHECK(r->empty());
  CHECK_FALSE(sc.available());
  // Other errors are returned.
  db.s.On("pg_extension", absl::UnavailableError("connection lost"));
  CHECK_FALSE(sc.Poll(db.s, t0 + absl::Minutes(4)).ok());
}

}  // namespace
}  // namespace pgwarden
