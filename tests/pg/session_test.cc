// pg/ without a database: the connection string, redaction, rows and the
// fake session.

#include "catch2/catch.hpp"
#include "pg/connect.h"
#include "pg/fake_session.h"
#include "pg/result.h"

namespace pgwarden {
namespace pg {
namespace {

TEST_CASE("ConnectionString adds timeouts, application_name and keepalives", "[pg]") {
  ConnectOptions o;
  o.application_name = "pgwarden check";
  o.connect_timeout = absl::Seconds(3);
  CHECK(ConnectionString("host=db dbname=shop", o) ==
        "host=db dbname=shop connect_timeout='3' application_name='pgwarden check' "
        "keepalives='1' keepalives_idle='30' keepalives_interval='10' keepalives_count='3'");
  o.keepalives = false;
  o.application_name = "it's";
  CHECK(ConnectionString("", o) == "connect_timeout='3' application_name='it\\'s'");
  // URI form: query parameters, percent-encoded.
  o.application_name = "pgwarden check";
  CHECK(ConnectionString("postgresql://u@db/shop", o) ==
        "postgresql://u@db/shop?connect_timeout=3&application_name=pgwarden%20check");
  CHECK(ConnectionString("postgres://db/shop?sslmode=require", o) ==
        "postgres://db/shop?sslmode=require&connect_timeout=3&application_name=pgwarden%20check");
  // A sub-second connect timeout still waits a second (libpq's unit).
  o.connect_timeout = absl::Milliseconds(100);
  CHECK(ConnectionString("", o).find("connect_timeout='1'") == 0);
}

TEST_CASE("RedactDsn hides passwords in both DSN forms", "[pg]") {
  CHECK(RedactDsn("host=db password=s3cret user=x") == "host=db password=*** user=x");
  CHECK(RedactDsn("host=db password = 'a b\\' c' user=x") == "host=db password = *** user=x");
  CHECK(RedactDsn("postgresql://u:s3cret@db/shop") == "postgresql://u:***@db/shop");
  CHECK(RedactDsn("postgresql://u@db/shop") == "postgresql://u@db/shop");
}

TEST_CASE("Row getters read PostgreSQL's text form, NULL and junk as the default", "[pg]") {
  Row r({std::string("42"), absl::nullopt, std::string("t"), std::string("2.5"), std::string("x")});
  CHECK(r.size() == 5);
  CHECK(r.Int(0) == 42);
  CHECK(r.IsNull(1));
  CHECK(r.Int(1, -1) == -1);
  CHECK(r.Text(1, "none") == "none");
  CHECK(r.Bool(2));
  CHECK(r.Double(3) == 2.5);
  CHECK(r.Int(4, 7) == 7);
  CHECK(r.Bool(4, true));
  CHECK(r.IsNull(9));  // out of range is NULL
}

TEST_CASE("FakeSession answers by statement text and records every call", "[pg]") {
  FakeSession s;
  s.On("FROM a", FakeSession::Rows({{"1"}}));
  s.On("FROM a WHERE", absl::NotFoundError("no"));
  s.OnSequence("seq", {FakeSession::Rows({{"1"}}), FakeSession::Rows({{"2"}})});
  CHECK((*s.Query("SELECT x FROM a"))[0].Int(0) == 1);
  CHECK(absl::IsNotFound(s.Query("SELECT x FROM a WHERE y").status()));  // newest match wins
  CHECK((*s.Query("seq"))[0].Int(0) == 1);
  CHECK((*s.Query("seq"))[0].Int(0) == 2);
  CHECK((*s.Query("seq"))[0].Int(0) == 2);  // the last answer repeats
  CHECK(s.Query("SELECT other").ok());      // default: empty result
  REQUIRE(s.Execute("UPDATE t SET a = $1", absl::Seconds(2), {"v"}).ok());
  CHECK(s.Executed() == std::vector<std::string>{"UPDATE t SET a = $1"});
  CHECK(s.calls().back().params == Params{"v"});
  CHECK(s.calls().back().timeout == absl::Seconds(2));
  CHECK(s.calls().size() == 7);
  s.set_open(false);
  CHECK(absl::IsUnavailable(s.Query("SELECT 1").status()));
  CHECK(s.BackendPid() == 0);
}

TEST_CASE("FakeSession quotes as PostgreSQL does", "[pg]") {
  FakeSession s;
  CHECK(s.QuoteName("customers") == "\"customers\"");
  CHECK(s.QuoteName("x\"; DROP TABLE t; --") == "\"x\"\"; DROP TABLE t; --\"");
  CHECK(s.Quote("it's") == "'it''s'");
  CHECK(s.QualifiedName("my schema", "T") == "\"my schema\".\"T\"");
  CHECK(SqlState(absl::InternalError("x")).empty());
}

}  // namespace
}  // namespace pg
}  // namespace pgwarden
