#include "signals/ddl_watch.h"

#include "absl/strings/match.h"
#include "catch2/catch.hpp"

namespace pgwarden {
namespace {

ColumnPrint Col(int attnum, const std::string& name, int64_t type_oid, const std::string& type) {
  ColumnPrint c;
  c.attnum = attnum;
  c.name = name;
  c.type_oid = type_oid;
  c.type = type;
  return c;
}

// Customers is public.customers (id bigint, email text, amount numeric).
CatalogFingerprint Customers() {
  CatalogFingerprint fp;
  fp.time = absl::FromUnixSeconds(1700000000);
  TablePrint t;
  t.oid = 16384;
  t.schema = "public";
  t.table = "customers";
  t.relfilenode = 16384;
  t.columns = {Col(1, "id", 20, "bigint"), Col(2, "email", 25, "text"),
               Col(3, "amount", 1700, "numeric")};
  fp.tables[t.oid] = t;
  fp.schemas = {"public", "pg_catalog"};
  return fp;
}

TEST_CASE("ddl_watch: a dropped column is one destructive_ddl naming it") {
  const CatalogFingerprint before = Customers();
  CatalogFingerprint after = before;
  ColumnPrint& email = after.tables[16384].columns[1];
  email.dropped = true;
  email.name = "........pg.dropped.2........";
  email.type_oid = 0;
  const std::vector<SignalEvent> evs = CompareFingerprints(before, after);
  REQUIRE(evs.size() == 1);
  CHECK(evs[0].kind == SignalKind::kDestructiveDdl);
  CHECK(evs[0].table == "customers");
  CHECK(absl::StrContains(evs[0].description, "email"));
  CHECK(evs[0].figures["change"] == "drop_column");
  // Once dropped, the next comparison is quiet.
  CHECK(CompareFingerprints(after, after).empty());
}

TEST_CASE("ddl_watch: a rewriting type change pages, one without a new file does not") {
  const CatalogFingerprint before = Customers();
  CatalogFingerprint after = before;
  after.tables[16384].columns[2] = Col(3, "amount", 23, "integer");
  CHECK(CompareFingerprints(before, after).empty());  // same relfilenode: data kept
  after.tables[16384].relfilenode = 16999;
  const std::vector<SignalEvent> evs = CompareFingerprints(before, after);
  REQUIRE(evs.size() == 1);
  CHECK(evs[0].figures["change"] == "alter_column_type");
  CHECK(absl::StrContains(evs[0].description, "amount numeric -> integer"));
}

TEST_CASE("ddl_watch: ADD COLUMN, VACUUM FULL and a new table give nothing") {
  const CatalogFingerprint before = Customers();
  CatalogFingerprint after = before;
  after.tables[16384].columns.push_back(Col(4, "note", 25, "text"));
  after.tables[16384].relfilenode = 17001;  // VACUUM FULL: new file, same types
  TablePrint other;
  other.oid = 20000;
  other.schema = "public";
  other.table = "orders";
  after.tables[other.oid] = other;
  CHECK(CompareFingerprints(before, after).empty());
  // A table gone (DROP TABLE) is TargetWatch's drop_table, not ours.
  CatalogFingerprint gone = before;
  gone.tables.clear();
  CHECK(CompareFingerprints(before, gone).empty());
}

SignalEvent Drop(const std::string& schema, const std::string& table) {
  SignalEvent ev;
  ev.kind = SignalKind::kDropTable;
  ev.schema = schema;
  ev.table = table;
  return ev;
}

TEST_CASE("ddl_watch: DROP SCHEMA CASCADE is one event naming its tables") {
  std::vector<SignalEvent> evs = {Drop("shop", "a"), Drop("shop", "b"), Drop("shop", "c"),
                                  Drop("public", "d")};
  SignalEvent other;
  other.kind = SignalKind::kRowLoss;
  other.schema = "public";
  other.table = "e";
  evs.push_back(other);
  GroupSchemaDrops({"public"}, absl::FromUnixSeconds(1700000000), &evs);
  REQUIRE(evs.size() == 3);
  int schema_events = 0;
  int drop_tables = 0;
  for (const SignalEvent& ev : evs) {
    if (ev.kind == SignalKind::kDestructiveDdl) {
      ++schema_events;
      CHECK(ev.schema == "shop");
      CHECK(ev.table.empty());
      CHECK(ev.figures["tables"].size() == 3);
      CHECK(absl::StrContains(ev.description, "a, b, c"));
    }
    if (ev.kind == SignalKind::kDropTable) {
      ++drop_tables;
      CHECK(ev.table == "d");  // its schema still exists: a plain DROP TABLE
    }
  }
  CHECK(schema_events == 1);
  CHECK(drop_tables == 1);
}

TEST_CASE("ddl_watch: a missing database is recognised from the connect error") {
  CHECK(IsDatabaseMissing("connecting to host=x: FATAL:  database \"shop\" does not exist"));
  CHECK_FALSE(IsDatabaseMissing("connection refused"));
  const SignalEvent ev = DatabaseDropped("shop", "database \"shop\" does not exist",
                                         absl::FromUnixSeconds(1700000000));
  CHECK(ev.kind == SignalKind::kDestructiveDdl);
  CHECK(ev.figures["database"] == "shop");
}

}  // namespace
}  // namespace pgwarden
