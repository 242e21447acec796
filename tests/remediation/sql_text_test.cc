#include "remediation/sql_text.h"

#include "catch2/catch.hpp"

namespace pgwarden {
namespace {

TEST_CASE("FindTableWrites finds DELETE/UPDATE/TRUNCATE/DROP and WHERE", "[sql_text]") {
  auto w = FindTableWrites("delete from public.customers");
  REQUIRE(w.size() == 1);
  CHECK(w[0].verb == WriteVerb::kDelete);
  CHECK(w[0].table.schema == "public");
  CHECK(w[0].table.table == "customers");
  CHECK_FALSE(w[0].has_where);

  w = FindTableWrites("DELETE FROM Customers WHERE id IN (SELECT id FROM customers LIMIT $1)");
  REQUIRE(w.size() == 1);
  CHECK(w[0].table.table == "customers");
  CHECK(w[0].has_where);

  w = FindTableWrites("UPDATE ONLY \"Weird \"\"T\"\"\" AS t SET a = 1");
  REQUIRE(w.size() == 1);
  CHECK(w[0].verb == WriteVerb::kUpdate);
  CHECK(w[0].table.table == "Weird \"T\"");
  CHECK_FALSE(w[0].has_where);

  w = FindTableWrites("truncate table a, s.b restart identity; drop table if exists c cascade");
  REQUIRE(w.size() == 3);
  CHECK(w[0].verb == WriteVerb::kTruncate);
  CHECK(w[1].table.schema == "s");
  CHECK(w[2].verb == WriteVerb::kDrop);
  CHECK(w[2].table.table == "c");
}

TEST_CASE("FindTableWrites ignores literals, comments and non-statement words", "[sql_text]") {
  CHECK(FindTableWrites("SELECT 'DELETE FROM customers' -- delete from customers").empty());
  CHECK(FindTableWrites("SELECT * FROM customers FOR UPDATE").empty());
  CHECK(
      FindTableWrites("ALTER TABLE o ADD FOREIGN KEY (c) REFERENCES c ON DELETE CASCADE").empty());
  auto w = FindTableWrites("BEGIN; DELETE FROM big; SELECT pg_sleep(30); COMMIT;");
  REQUIRE(w.size() == 1);
  CHECK(w[0].table.table == "big");
  CHECK_FALSE(w[0].has_where);
  w = FindTableWrites("WITH d AS (DELETE FROM t WHERE x RETURNING *) SELECT count(*) FROM d");
  REQUIRE(w.size() == 1);
  CHECK(w[0].has_where);
  w = FindTableWrites(
      "DO $$ BEGIN FOR i IN 1..10 LOOP DELETE FROM t WHERE id < i; COMMIT; END LOOP; END $$");
  REQUIRE(w.size() == 1);
  CHECK(w[0].table.table == "t");
}

TEST_CASE("FindDestructiveAlters finds DROP COLUMN and type changes, nothing else", "[sql_text]") {
  auto a = FindDestructiveAlters("ALTER TABLE customers DROP COLUMN email");
  REQUIRE(a.size() == 1);
  CHECK(a[0].table.table == "customers");
  CHECK(a[0].what == "DROP COLUMN email");
  a = FindDestructiveAlters("alter table only public.orders alter column amount type int using 0");
  REQUIRE(a.size() == 1);
  CHECK(a[0].table.schema == "public");
  CHECK(a[0].what == "ALTER COLUMN amount TYPE");
  a = FindDestructiveAlters("ALTER TABLE IF EXISTS \"Orders\" ALTER amount SET DATA TYPE bigint");
  REQUIRE(a.size() == 1);
  CHECK(a[0].table.table == "Orders");
  CHECK(a[0].what == "ALTER COLUMN amount SET DATA TYPE");
  a = FindDestructiveAlters("ALTER TABLE t ADD COLUMN x int, DROP IF EXISTS y");
  REQUIRE(a.size() == 1);
  CHECK(a[0].what == "DROP COLUMN y");
  a = FindDestructiveAlters("BEGIN; ALTER TABLE t DROP email; COMMIT;");
  REQUIRE(a.size() == 1);
  CHECK(a[0].what == "DROP COLUMN email");
  // Not destructive: the data stays.
  CHECK(FindDestructiveAlters("ALTER TABLE t ADD COLUMN note text").empty());
  CHECK(FindDestructiveAlters("ALTER TABLE t DROP CONSTRAINT t_pkey").empty());
  CHECK(FindDestructiveAlters("ALTER TABLE t ALTER COLUMN a DROP NOT NULL").empty());
  CHECK(FindDestructiveAlters("ALTER TABLE t ALTER COLUMN a SET DEFAULT 0").empty());
  CHECK(FindDestructiveAlters("ALTER TABLE t RENAME COLUMN a TO b").empty());
  CHECK(FindDestructiveAlters("CREATE INDEX ON t (a)").empty());
  CHECK(FindDestructiveAlters("VACUUM FULL t").empty());
  CHECK(FindDestructiveAlters("SELECT 'ALTER TABLE t DROP COLUMN a'").empty());
  CHECK(FindDestructiveAlters("ALTER INDEX i RENAME TO j").empty());
}

TEST_CASE("RefersTo matches unqualified names in any schema", "[sql_text]") {
  CHECK(RefersTo({"", "t"}, "public", "t"));
  CHECK(RefersTo({"public", "t"}, "public", "t"));
  CHECK_FALSE(RefersTo({"other", "t"}, "public", "t"));
  CHECK_FALSE(RefersTo({"", "T"}, "public", "t"));
}

TEST_CASE("FindDroppedObjects names the schemas and databases a DROP removes", "[sql_text]") {
  using V = std::vector<std::string>;
  CHECK(FindDroppedObjects("DROP SCHEMA public CASCADE", "schema") == V{"public"});
  CHECK(FindDroppedObjects("drop schema if exists a, \"B c\" cascade;", "schema") == V{"a", "B c"});
  CHECK(FindDroppedObjects("DROP DATABASE shop WITH (FORCE)", "database") == V{"shop"});
  CHECK(FindDroppedObjects("BEGIN; DROP SCHEMA archive; COMMIT", "schema") == V{"archive"});
  CHECK(FindDroppedObjects("DROP SCHEMA public CASCADE", "database").empty());
  CHECK(FindDroppedObjects("DROP TABLE public.t", "schema").empty());
  CHECK(FindDroppedObjects("SELECT 'DROP SCHEMA public'", "schema").empty());
  CHECK(FindDroppedObjects("COMMENT ON SCHEMA s IS 'x'; -- DROP SCHEMA s", "schema").empty());
}

}  // namespace
}  // namespace pgwarden
