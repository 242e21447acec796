// Failed logins against a real PostgreSQL 15, read back from its server log.

#include <pqxx/pqxx>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "catch2/catch.hpp"
#include "devtools/local_postgres.h"
#include "sources/server_log.h"

namespace pgwarden {
namespace {

TEST_CASE("failed logins against a real server are counted from its log, by user and reason",
          "[integration][server_log]") {
  auto pg = LocalPostgres::Start();
  REQUIRE(pg.ok());
  REQUIRE((*pg)->Psql("CREATE ROLE app LOGIN PASSWORD 'right'").ok());
  ServerLogTail tail((*pg)->log_path());
  REQUIRE(tail.Poll().ok());
  for (int i = 0; i < 7; ++i) {
    CHECK_THROWS(pqxx::connection((*pg)->Dsn("postgres", "app", "wrong")));
  }
  CHECK_THROWS(pqxx::connection((*pg)->Dsn("postgres", "nobody", "x")));
  pqxx::connection ok((*pg)->Dsn("postgres", "app", "right"));  // a success is not counted
  int64_t total = 0;
  std::map<std::string, int64_t> users;
  std::map<std::string, int64_t> reasons;
  // The server writes its log asynchronously: poll for at most 5 s.
  const absl::Time end = absl::Now() + absl::Seconds(5);
  while (total < 8 && absl::Now() < end) {
    auto r = tail.Poll();
    REQUIRE(r.ok());
    total += r->total;
    for (const auto& [u, n] : r->by_user) users[u] += n;
    for (const auto& [k, n] : r->by_reason) reasons[k] += n;
    absl::SleepFor(absl::Milliseconds(100));
  }
  CHECK(total == 8);
  CHECK(users["app"] == 7);
  CHECK(users["nobody"] == 1);
  CHECK(reasons["password"] == 8);
}

}  // namespace
}  // namespace pgwarden
