// pg/ against a real PostgreSQL 15: the connection builder's settings, the
// errors libpqxx raises as Status, and quoting identical to the fake's.

#include <memory>

#include "absl/strings/match.h"
#include "catch2/catch.hpp"
#include "devtools/local_postgres.h"
#include "pg/connect.h"
#include "pg/fake_session.h"

namespace pgwarden {
namespace pg {
namespace {

TEST_CASE("a real session: settings, errors as Status, quoting as the fake's",
          "[integration][pg]") {
  absl::StatusOr<std::unique_ptr<LocalPostgres>> pg = LocalPostgres::Start();
  REQUIRE(pg.ok());
  ConnectOptions o;
  o.application_name = "pgwarden-test";
  o.statement_timeout = absl::Milliseconds(1500);
  o.lock_timeout = absl::Milliseconds(700);
  absl::StatusOr<std::unique_ptr<Session>> s = Connect((*pg)->Dsn("postgres"), o);
  REQUIRE(s.ok());
  Session& conn = **s;
  CHECK(conn.IsOpen());
  CHECK(conn.BackendPid() > 0);

  absl::StatusOr<Result> r = conn.Query(
      "SELECT current_setting('application_name'), current_setting('statement_timeout'), "
      "current_setting('lock_timeout'), current_setting('tcp_keepalives_idle'), $1::int + 1",
      {"41"});
  REQUIRE(r.ok());
  CHECK((*r)[0].Text(0) == "pgwarden-test");
  CHECK((*r)[0].Text(1) == "1500ms");
  CHECK((*r)[0].Text(2) == "700ms");
  CHECK((*r)[0].Int(4) == 42);

  // Execute bounds the statement with its own timeout and reports it.
  absl::Status slow = conn.Execute("SELECT pg_sleep(5)", absl::Milliseconds(200)).status();
  CHECK(absl::IsDeadlineExceeded(slow));
  CHECK(SqlState(slow) == "57014");
  CHECK(absl::StrContains(slow.message(), "statement timeout"));
  CHECK(conn.IsOpen());

  absl::Status missing = conn.Query("SELECT * FROM no_such_table").status();
  CHECK(absl::IsNotFound(missing));
  CHECK(SqlState(missing) == "42P01");
  CHECK(absl::IsInvalidArgument(conn.Query("SELEC 1").status()));

  // Several statements in one Execute (the undo of a revoke is two GRANTs).
  REQUIRE(conn.Execute("CREATE TABLE t (a int); INSERT INTO t VALUES (1)", absl::Seconds(2)).ok());
  CHECK((*conn.Query("SELECT count(*) FROM t"))[0].Int(0) == 1);

  // The fake quotes exactly as libpq does, hostile names included.
  FakeSession fake;
  for (const char* name :
       {"customers", "Mixed Case", "x\"; DROP TABLE t; --", "it's", "a\\b", "ünïcödé"}) {
    INFO(name);
    CHECK(conn.QuoteName(name) == fake.QuoteName(name));
    CHECK(conn.Quote(name) == fake.Quote(name));
    absl::StatusOr<Result> back = conn.Query("SELECT " + conn.Quote(name));
    REQUIRE(back.ok());
    CHECK((*back)[0].Text(0) == name);
  }

  // Losing the connection is Unavailable, and the session says it is closed.
  std::unique_ptr<Session> victim = *Connect((*pg)->Dsn("postgres"), {});
  REQUIRE(conn.Query("SELECT pg_terminate_backend($1::int)", {std::to_string(victim->BackendPid())})
              .ok());
  absl::Status lost = absl::OkStatus();
  for (int i = 0; i < 20 && lost.ok(); ++i) lost = victim->Query("SELECT 1").status();
  CHECK(absl::IsUnavailable(lost));
  CHECK_FALSE(victim->IsOpen());
}

TEST_CASE("a failed connect names the DSN without its password", "[integration][pg]") {
  ConnectOptions o;
  o.connect_timeout = absl::Seconds(1);
  absl::StatusOr<std::unique_ptr<Session>> s =
      Connect("host=127.0.0.1 port=1 dbname=x user=u password=s3cret", o);
  REQUIRE_FALSE(s.ok());
  CHECK(absl::IsUnavailable(s.status()));
  CHECK(absl::StrContains(s.status().message(), "password=***"));
  CHECK_FALSE(absl::StrContains(s.status().message(), "s3cret"));
}

TEST_CASE("a session whose server went away fails its statements and quotes without throwing",
          "[integration][pg]") {
  absl::StatusOr<std::unique_ptr<LocalPostgres>> pg = LocalPostgres::Start();
  REQUIRE(pg.ok());
  absl::StatusOr<std::unique_ptr<Session>> s = Connect((*pg)->Dsn("postgres"), {});
  REQUIRE(s.ok());
  Session& conn = **s;
  REQUIRE((*pg)->Stop().ok());
  CHECK_FALSE(conn.Query("SELECT 1").ok());
  CHECK_FALSE(conn.Execute("SELECT 1", absl::Seconds(1)).ok());
  // libpqxx would reconnect to quote, and throw: the session must not.
  CHECK(conn.QuoteName("we\"ird") == "\"we\"\"ird\"");
  CHECK(conn.Quote("it's") == "'it''s'");
  CHECK(conn.BackendPid() >= 0);
}

}  // namespace
}  // namespace pg
}  // namespace pgwarden
