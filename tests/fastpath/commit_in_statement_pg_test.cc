// The commit-in-statement watch against a real PostgreSQL 15: a purge
// procedure that deletes and COMMITs in a loop inside one CALL is found
// within seconds; a long SELECT and a long single-transaction UPDATE are not.

#include <algorithm>
#include <memory>
#include <pqxx/pqxx>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "catch2/catch.hpp"
#include "devtools/local_postgres.h"
#include "fastpath/commit_in_statement.h"
#include "pg/connect.h"
#include "pg/test_connection.h"

namespace pgwarden {
namespace {

// Client runs one statement as `role` on its own thread; errors (the cancel
// at the end) are kept, not thrown.
class Client {
 public:
  Client(const std::string& dsn, std::string sql)
      : thread_([this, dsn, sql = std::move(sql)] {
          try {
            auto c = pg::ConnectClient(dsn);
            pqxx::nontransaction w(*c);
            w.exec(sql);
          } catch (const std::exception& e) {
            absl::MutexLock lock(&mu_);
            error_ = e.what();
          }
        }) {}
  ~Client() { thread_.join(); }
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

 private:
  absl::Mutex mu_;
  std::string error_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

TEST_CASE(
    "a purge procedure committing inside one CALL is a suspect, long single statements "
    "are not",
    "[integration][commit_in_statement]") {
  LocalPostgresOptions options;
  options.trusted_roles = {"postgres", "pgwarden", "purger", "reader", "updater"};
  auto pg = LocalPostgres::Start(options);
  REQUIRE(pg.ok());
  REQUIRE((*pg)->Psql("CREATE DATABASE shop").ok());
  REQUIRE((*pg)
              ->Psql("CREATE ROLE pgwarden LOGIN; GRANT pg_monitor TO pgwarden; "
                     "CREATE ROLE purger LOGIN; CREATE ROLE reader LOGIN; "
                     "CREATE ROLE updater LOGIN; "
                     "CREATE TABLE events (id bigint PRIMARY KEY, pad text); "
                     "INSERT INTO events SELECT g, 'x' FROM generate_series(1, 200000) g; "
                     "GRANT SELECT ON events TO pgwarden, reader; "
                     "GRANT SELECT, DELETE ON events TO purger; "
                     "GRANT SELECT, UPDATE ON events TO updater; "
                     "CREATE PROCEDURE purge_events() LANGUAGE plpgsql AS $$ "
                     "BEGIN FOR i IN 1..95 LOOP "
                     "  DELETE FROM events WHERE id IN "
                     "    (SELECT id FROM events ORDER BY id LIMIT 2000); "
                     "  COMMIT; PERFORM pg_sleep(0.1); "
                     "END LOOP; END $$",
                     "shop")
              .ok());
  auto oid = (*pg)->Psql("SELECT 'public.events'::regclass::oid", "shop");
  REQUIRE(oid.ok());
  const std::vector<WatchedTable> watched = {{std::stoll(*oid), "public", "events", 200000}};
  auto agent = pg::Connect((*pg)->Dsn("shop", "pgwarden"), {});
  REQUIRE(agent.ok());
  CommitInStatementWatch watch;

  const absl::Time start = absl::Now();
  std::vector<Suspect> found;
  absl::Duration found_after = absl::InfiniteDuration();
  double rate = 0;
  {
    Client purge((*pg)->Dsn("shop", "purger"), "CALL purge_events()");
    Client select((*pg)->Dsn("shop", "reader"), "SELECT pg_sleep(6), count(*) FROM events");
    Client update((*pg)->Dsn("shop", "updater"),
                  "DO $$ BEGIN UPDATE events SET pad = 'u' WHERE id = 200000; "
                  "PERFORM pg_sleep(6); END $$");
    // At most 12 s, 4 polls a second.
    for (int i = 0; i < 48 && absl::Now() - start < absl::Seconds(12); ++i) {
      auto r = watch.Poll(**agent, watched, absl::Now());
      REQUIRE(r.ok());
      for (const Suspect& s : *r) {
        if (found.empty()) found_after = absl::Now() - start;
        found.push_back(s);
        rate = std::max(rate, s.rows_per_second);
      }
      if (!found.empty() && rate > 0 && absl::Now() - start > absl::Seconds(7)) break;
      absl::SleepFor(absl::Milliseconds(250));
    }
    REQUIRE((*pg)
                ->Psql("SELECT pg_cancel_backend(pid) FROM pg_stat_activity "
                       "WHERE usename IN ('purger', 'reader', 'updater')",
                       "shop")
                .ok());
  }  // joins the clients
  REQUIRE_FALSE(found.empty());
  CHECK(found_after <= absl::Seconds(6.5));
  for (const Suspect& s : found) {
    CHECK(s.role == "purger");
    CHECK(s.table == "events");
    CHECK(s.schema == "public");
    CHECK(s.query == "CALL purge_events()");
    CHECK(s.xid_changes >= 1);
    CHECK(s.rows_before == 200000);
    CHECK(s.rows_now <= 198000);
    CHECK_FALSE(s.sampled);
  }
  CHECK(rate > 0);
  CHECK(watch.stats().probe_failures == 0);
}

}  // namespace
}  // namespace pgwarden
