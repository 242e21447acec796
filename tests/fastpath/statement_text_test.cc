#include "fastpath/statement_text.h"

#include "catch2/catch.hpp"

namespace pgwarden {
namespace {

TEST_CASE("statement text is classified into one table and verb, or skipped", "[statement_text]") {
  StatementClass d = ClassifyStatement("DELETE FROM public.items WHERE id < $1");
  CHECK(d.kind == StatementKind::kWrite);
  CHECK(d.verb == ChangeVerb::kDelete);
  REQUIRE(d.tables.size() == 1);
  CHECK(d.tables[0].schema == "public");
  CHECK(d.tables[0].table == "items");

  StatementClass u = ClassifyStatement("update Items set x = $1");
  CHECK(u.kind == StatementKind::kWrite);
  CHECK(u.verb == ChangeVerb::kUpdate);
  CHECK(u.tables[0].table == "items");

  StatementClass i = ClassifyStatement("INSERT INTO \"Audit\".log (a) VALUES ($1)");
  CHECK(i.kind == StatementKind::kWrite);
  CHECK(i.verb == ChangeVerb::kInsert);
  CHECK(i.tables[0].schema == "Audit");
  CHECK(i.tables[0].table == "log");

  StatementClass t = ClassifyStatement("TRUNCATE a, b");
  CHECK(t.kind == StatementKind::kWrite);
  CHECK(t.verb == ChangeVerb::kTruncate);
  CHECK(t.tables.size() == 2);

  CHECK(ClassifyStatement("SELECT * FROM items").kind == StatementKind::kOther);
  CHECK(ClassifyStatement("DROP TABLE items").kind == StatementKind::kOther);
  CHECK(ClassifyStatement("-- x\nSELECT 'delete from items'").kind == StatementKind::kOther);
}

TEST_CASE("a statement writing several tables or verbs is ambiguous", "[statement_text]") {
  CHECK(ClassifyStatement("WITH d AS (DELETE FROM a RETURNING *) DELETE FROM b").kind ==
        StatementKind::kAmbiguous);
  CHECK(ClassifyStatement("WITH d AS (DELETE FROM a RETURNING *) INSERT INTO b SELECT * FROM d")
            .kind == StatementKind::kAmbiguous);
  CHECK(ClassifyStatement("WITH d AS (DELETE FROM a RETURNING id) UPDATE a SET x = $1").kind ==
        StatementKind::kAmbiguous);
  // A locking subquery is no second write.
  CHECK(ClassifyStatement("DELETE FROM a WHERE id IN (SELECT id FROM a LIMIT $1 FOR UPDATE SKIP "
                          "LOCKED)")
            .kind == StatementKind::kWrite);
  // The same table and verb twice is still one.
  CHECK(ClassifyStatement("DELETE FROM a WHERE x = $1; DELETE FROM a WHERE y = $2").kind ==
        StatementKind::kWrite);
}

TEST_CASE("ROLLBACK and ABORT in every form are rollbacks, COMMIT is not", "[statement_text]") {
  CHECK(ClassifyStatement("ROLLBACK").kind == StatementKind::kRollback);
  CHECK(ClassifyStatement("rollback work").kind == StatementKind::kRollback);
  CHECK(ClassifyStatement("ABORT").kind == StatementKind::kRollback);
  CHECK(ClassifyStatement("ROLLBACK TO SAVEPOINT s1").kind == StatementKind::kRollback);
  CHECK(ClassifyStatement("COMMIT").kind == StatementKind::kOther);
  CHECK(ClassifyStatement("BEGIN").kind == StatementKind::kOther);
}

TEST_CASE("CALL names its procedure", "[statement_text]") {
  TableRef p;
  REQUIRE(CalledProcedure("CALL purge_old($1)", &p));
  CHECK(p.schema.empty());
  CHECK(p.table == "purge_old");
  REQUIRE(CalledProcedure("call Ops.\"Purge\"()", &p));
  CHECK(p.schema == "ops");
  CHECK(p.table == "Purge");
  CHECK_FALSE(CalledProcedure("SELECT purge()", &p));
}

}  // namespace
}  // namespace pgwarden
