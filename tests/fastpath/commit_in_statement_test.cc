#include "fastpath/commit_in_statement.h"

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "catch2/catch.hpp"
#include "pg/fake_session.h"

namespace pgwarden {
namespace {

using pg::FakeSession;
using Rows = std::vector<std::vector<absl::optional<std::string>>>;

// Backend is one pg_stat_activity row of the watch's query.
struct Backend {
  std::string pid = "501";
  std::string query = "CALL purge_events()";
  std::string query_start = "1000.000001";
  std::string xid;
  std::string xact_start = "1000.000001";
  bool advanced = false;  // xact_start > query_start
  std::string rels;       // watched oids write-locked
};

void Activity(FakeSession* s, const std::vector<Backend>& backends) {
  Rows rows;
  for (const Backend& b : backends) {
    rows.push_back({b.pid, "purger", "psql", "127.0.0.1", b.query, "4.5", b.query_start, b.xid,
                    b.xact_start, b.advanced ? "t" : "f", b.rels});
  }
  s->On("pg_stat_activity", FakeSession::Rows(rows));
}

void Count(FakeSession* s, const std::string& table, int64_t rows) {
  s->On(absl::StrCat("FROM \"public\".\"", table, "\""),
        FakeSession::Rows({{std::to_string(rows)}}));
}

int Probes(const FakeSession& s) { return static_cast<int>(s.Executed().size()); }

const std::vector<WatchedTable> kEvents = {{5, "public", "events", 200000}};

TEST_CASE(
    "a statement whose backend_xid changes between polls is a suspect once the probe "
    "shows the drop",
    "[commit_in_statement]") {
  FakeSession s;
  CommitInStatementWatch watch;
  const absl::Time t0 = absl::FromUnixSeconds(2000);
  Backend b;
  b.xid = "700";
  b.rels = "5";
  Activity(&s, {b});
  Count(&s, "events", 150000);
  auto r = watch.Poll(s, kEvents, t0);
  REQUIRE(r.ok());
  CHECK(r->empty());
  CHECK(Probes(s) == 0);  // no change yet: nothing probed
  CHECK(watch.tracked() == 1);

  b.xid = "731";
  b.xact_start = "1003.5";
  b.rels = "";  // between chunks: no lock; remembered from before
  Activity(&s, {b});
  r = watch.Poll(s, kEvents, t0 + absl::Milliseconds(250));
  REQUIRE(r.ok());
  REQUIRE(r->size() == 1);
  const Suspect& x = r->front();
  CHECK(x.pid == 501);
  CHECK(x.role == "purger");
  CHECK(x.application == "psql");
  CHECK(x.client == "127.0.0.1");
  CHECK(x.query == "CALL purge_events()");
  CHECK(x.query_age_seconds == Approx(4.5));
  CHECK(x.oid == 5);
  CHECK(x.schema == "public");
  CHECK(x.table == "events");
  CHECK(x.xid_changes == 1);
  CHECK(x.rows_before == 200000);
  CHECK(x.rows_now == 150000);
  CHECK_FALSE(x.sampled);
  REQUIRE(Probes(s) == 1);
  CHECK(s.Executed()[0] == "SELECT count(*) FROM \"public\".\"events\"");
  CHECK(s.calls().back().timeout == absl::Seconds(1));

  // Two seconds later the table has lost more: the rate is measured.
  Count(&s, "events", 140000);
  r = watch.Poll(s, kEvents, t0 + absl::Milliseconds(2250));
  REQUIRE(r.ok());
  REQUIRE(r->size() == 1);
  CHECK(r->front().rows_now == 140000);
  CHECK(r->front().rows_per_second == Approx(5000));

  // The statement ended: forgotten.
  Activity(&s, {});
  r = watch.Poll(s, kEvents, t0 + absl::Seconds(3));
  REQUIRE(r.ok());
  CHECK(r->empty());
  CHECK(watch.tracked() == 0);
}

TEST_CASE("a long statement in one transaction is never a suspect", "[commit_in_statement]") {
  FakeSession s;
  CommitInStatementWatch watch;
  const absl::Time t0 = absl::FromUnixSeconds(2000);
  Backend b;
  b.query = "UPDATE events SET pad = $1";
  b.xid = "700";
  b.rels = "5";
  Activity(&s, {b});
  Count(&s, "events", 1);
  for (int i = 0; i < 10; ++i) {
    auto r = watch.Poll(s, kEvents, t0 + absl::Seconds(i));
    REQUIRE(r.ok());
    CHECK(r->empty());
  }
  CHECK(Probes(s) == 0);
  // The same pid with a new statement is a new statement, not a change.
  b.query_start = "1009.0";
  b.xid = "800";
  Activity(&s, {b});
  auto r = watch.Poll(s, kEvents, t0 + absl::Seconds(11));
  REQUIRE(r.ok());
  CHECK(r->empty());
  CHECK(Probes(s) == 0);
}

TEST_CASE("a drop under max(1000 rows, 1 percent) is no suspect", "[commit_in_statement]") {
  FakeSession s;
  CommitInStatementWatch watch;
  const absl::Time t0 = absl::FromUnixSeconds(2000);
  const std::vector<WatchedTable> watched = {{5, "public", "events", 200000},
                                             {6, "public", "small", 50000}};
  Backend b;
  b.advanced = true;  // committed inside itself before the first sighting
  b.rels = "5,6";
  Activity(&s, {b});
  Count(&s, "events", 198500);  // 1,500 < 2,000 (1 %)
  Count(&s, "small", 49100);    // 900 < 1,000
  auto r = watch.Poll(s, watched, t0);
  REQUIRE(r.ok());
  CHECK(r->empty());
  CHECK(Probes(s) == 2);
  Count(&s, "small", 49000);  // 1,000: enough, on the next probe
  r = watch.Poll(s, watched, t0 + absl::Seconds(2));
  REQUIRE(r.ok());
  REQUIRE(r->size() == 1);
  CHECK(r->front().table == "small");
}

TEST_CASE("probes are bounded per poll and per table", "[commit_in_statement]") {
  FakeSession s;
  CommitInStatementWatch watch;
  const absl::Time t0 = absl::FromUnixSeconds(2000);
  std::vector<WatchedTable> watched;
  Backend b;
  b.advanced = true;
  for (int i = 1; i <= 6; ++i) {
    watched.push_back({i, "public", "t" + std::to_string(i), 100000});
    Count(&s, "t" + std::to_string(i), 50000);
    b.rels += (i > 1 ? "," : "") + std::to_string(i);
  }
  Activity(&s, {b});
  auto r = watch.Poll(s, watched, t0);
  REQUIRE(r.ok());
  CHECK(Probes(s) == 4);
  CHECK(r->size() == 4);
  r = watch.Poll(s, watched, t0 + absl::Milliseconds(250));
  REQUIRE(r.ok());
  CHECK(Probes(s) == 6);  // only the two not probed yet
  CHECK(r->size() == 6);  // the others' recent probes are reused
  r = watch.Poll(s, watched, t0 + absl::Milliseconds(500));
  REQUIRE(r.ok());
  CHECK(Probes(s) == 6);
  r = watch.Poll(s, watched, t0 + absl::Milliseconds(2100));
  REQUIRE(r.ok());
  CHECK(Probes(s) == 10);
  CHECK(watch.stats().probes == 10);
}

TEST_CASE("a CALL's table comes from the procedure body, big tables are sampled",
          "[commit_in_statement]") {
  FakeSession s;
  CommitInStatementWatch watch;
  const absl::Time t0 = absl::FromUnixSeconds(2000);
  const std::vector<WatchedTable> watched = {{5, "public", "events", 5000000},
                                             {6, "public", "other", 5000000}};
  Backend b;
  b.advanced = true;  // no lock, no xid: sleeping between chunks
  Activity(&s, {b});
  s.On("pg_proc", FakeSession::Rows({{"BEGIN LOOP DELETE FROM events WHERE id IN (SELECT id "
                                      "FROM events LIMIT 2000); COMMIT; END LOOP; END"}}));
  s.On("FROM \"public\".\"events\" TABLESAMPLE SYSTEM (2.0000)", FakeSession::Rows({{"80000"}}));
  auto r = watch.Poll(s, watched, t0);
  REQUIRE(r.ok());
  REQUIRE(r->size() == 1);
  CHECK(r->front().table == "events");
  CHECK(r->front().sampled);
  CHECK(r->front().rows_now == 4000000);
  REQUIRE(Probes(s) == 1);
  // The body is read once per statement.
  REQUIRE(watch.Poll(s, watched, t0 + absl::Seconds(1)).ok());
  CHECK(watch.stats().lookups == 1);
  // A failed probe is counted, not returned.
  s.On("TABLESAMPLE", absl::DeadlineExceededError("canceling statement due to statement timeout"));
  r = watch.Poll(s, watched, t0 + absl::Seconds(3));
  REQUIRE(r.ok());
  CHECK(r->empty());
  CHECK(watch.stats().probe_failures == 1);
}

}  // namespace
}  // namespace pgwarden
