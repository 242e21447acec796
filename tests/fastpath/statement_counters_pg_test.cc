// The statement fast path against a real PostgreSQL 15: autocommit cleanup
// batches are reported on the next poll; a big DELETE that rolls back is
// never reported, the same committed is.

#include <memory>
#include <pqxx/pqxx>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "catch2/catch.hpp"
#include "devtools/local_postgres.h"
#include "fastpath/statement_counters.h"
#include "pg/connect.h"
#include "pg/test_connection.h"

namespace pgwarden {
namespace {

constexpr char kDeleteBatch[] =
    "DELETE FROM items WHERE id IN (SELECT id FROM items ORDER BY id LIMIT ";

int64_t DeletedBy(const std::vector<TableChange>& changes, const std::string& role) {
  int64_t n = 0;
  for (const TableChange& c : changes) {
    if (c.role == role && c.schema == "public" && c.table == "items") n += c.deleted;
  }
  return n;
}

TEST_CASE("statement counters on a real server: cleanup batches reported, rolled back not",
          "[integration][statement_counters]") {
  LocalPostgresOptions options;
  options.trusted_roles = {"postgres", "pgwarden", "cleanup"};
  auto pg = LocalPostgres::Start(options);
  REQUIRE(pg.ok());
  REQUIRE((*pg)->Psql("CREATE DATABASE shop").ok());
  REQUIRE((*pg)
              ->Psql("CREATE EXTENSION pg_stat_statements; "
                     "CREATE ROLE pgwarden LOGIN; GRANT pg_monitor TO pgwarden; "
                     "CREATE ROLE cleanup LOGIN; "
                     "CREATE TABLE items (id bigint PRIMARY KEY, pad text); "
                     "INSERT INTO items SELECT g, 'x' FROM generate_series(1, 120000) g; "
                     "GRANT SELECT, DELETE ON items TO cleanup",
                     "shop")
              .ok());
  auto agent = pg::Connect((*pg)->Dsn("shop", "pgwarden"), {});
  REQUIRE(agent.ok());
  auto cleanup = pg::ConnectClient((*pg)->Dsn("shop", "cleanup"));
  StatementCounters sc;
  auto poll = [&]() {
    absl::StatusOr<std::vector<TableChange>> r = sc.Poll(**agent, absl::Now());
    REQUIRE(r.ok());
    return *r;
  };
  CHECK(poll().empty());  // baseline
  REQUIRE(sc.available());

  // A cleanup script: five autocommit batches of 1,000 rows.
  for (int i = 0; i < 5; ++i) {
    pqxx::nontransaction w(*cleanup);
    w.exec(std::string(kDeleteBatch) + "1000)");
  }
  CHECK(DeletedBy(poll(), "cleanup") == 5000);
  CHECK(DeletedBy(poll(), "cleanup") == 0);

  // 50,000 rows deleted in a transaction that rolls back.
  {
    pqxx::work w(*cleanup);
    w.exec(std::string(kDeleteBatch) + "50000)");
    CHECK(DeletedBy(poll(), "cleanup") == 0);
    CHECK(sc.pending() == 1);
    w.abort();
  }
  CHECK(DeletedBy(poll(), "cleanup") == 0);
  CHECK(DeletedBy(poll(), "cleanup") == 0);
  CHECK(sc.pending() == 0);
  CHECK(sc.pending_stats().discarded_rows == 50000);

  // A delete and its rollback between two polls: not reported either.
  {
    pqxx::work w(*cleanup);
    w.exec(std::string(kDeleteBatch) + "50000)");
    w.abort();
  }
  CHECK(DeletedBy(poll(), "cleanup") == 0);

  // The same committed: held while open, reported once it commits.
  {
    pqxx::work w(*cleanup);
    w.exec(std::string(kDeleteBatch) + "50000)");
    CHECK(DeletedBy(poll(), "cleanup") == 0);
    w.commit();
  }
  CHECK(DeletedBy(poll(), "cleanup") == 50000);
  CHECK(sc.pending() == 0);
  CHECK(sc.stats().counter_rows > 0);

  // A transaction that ends without a ROLLBACK statement - its session is
  // terminated while it holds a 20,000-row DELETE - is asked about
  // (pg_xact_status): aborted, never reported.
  {
    auto doomed = pg::ConnectClient((*pg)->Dsn("shop", "cleanup"));
    pqxx::work w(*doomed);
    w.exec(std::string(kDeleteBatch) + "20000)");
    const int pid = doomed->backendpid();
    CHECK(DeletedBy(poll(), "cleanup") == 0);
    CHECK(sc.pending() == 1);
    REQUIRE((*pg)->Psql("SELECT pg_terminate_backend(" + std::to_string(pid) + ")").ok());
    for (int i = 0; i < 50; ++i) {  // until the backend is gone (bounded)
      auto left =
          (*pg)->Psql("SELECT count(*) FROM pg_stat_activity WHERE pid = " + std::to_string(pid));
      if (left.ok() && *left == "0") break;
      absl::SleepFor(absl::Milliseconds(100));
    }
  }
  CHECK(DeletedBy(poll(), "cleanup") == 0);
  CHECK(sc.pending() == 0);
  CHECK(sc.pending_stats().discarded_rows == 70000);
}

}  // namespace
}  // namespace pgwarden
