#include "devtools/local_postgres.h"

#include "catch2/catch.hpp"

namespace pgwarden {
namespace {

TEST_CASE("LocalPostgres starts, answers SQL, stops and resumes", "[integration]") {
  auto pg = LocalPostgres::Start();
  REQUIRE(pg.ok());
  auto out = (*pg)->Psql("SELECT current_setting('shared_preload_libraries')");
  REQUIRE(out.ok());
  CHECK(*out == "pg_stat_statements");
  REQUIRE((*pg)->Stop().ok());
  CHECK_FALSE((*pg)->Psql("SELECT 1").ok());
  REQUIRE((*pg)->Resume().ok());
  auto again = (*pg)->Psql("SELECT 40 + 2");
  REQUIRE(again.ok());
  CHECK(*again == "42");
}

}  // namespace
}  // namespace pgwarden
