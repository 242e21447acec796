#include "signals/ddl_log.h"

#include "absl/strings/match.h"
#include "catch2/catch.hpp"
#include "signals/ddl_watch.h"
#include "tests/signals/test_time.h"

namespace pgwarden {
namespace {

using testing::kT0;
const std::vector<TableRef> kWatched = {{"public", "customers"}, {"public", "orders"}};

LoggedStatement Logged(const std::string& user, const std::string& db, const std::string& sql) {
  return LoggedStatement{user, db, sql};
}

SignalEvent DdlEvent(const std::string& change, const std::string& schema,
                     const std::string& table) {
  SignalEvent ev;
  ev.kind = SignalKind::kDestructiveDdl;
  ev.schema = schema;
  ev.table = table;
  ev.time = kT0 + absl::Seconds(5);
  ev.description = "column email of table public.customers dropped";
  ev.figures = {{"change", change}};
  return ev;
}

TEST_CASE("ddl_log: a logged ALTER of a watched table asks for the fingerprint at once") {
  DdlLog log;
  CHECK(log.Add(Logged("mig", "shop", "ALTER TABLE customers DROP COLUMN email"), kT0, "shop",
                kWatched));
  CHECK(log.Add(Logged("mig", "shop", "DROP SCHEMA public CASCADE"), kT0, "shop", kWatched));
  // Another table, another database: kept (it may explain a later event),
  // no hurry.
  CHECK_FALSE(
      log.Add(Logged("mig", "shop", "ALTER TABLE audit DROP COLUMN x"), kT0, "shop", kWatched));
  CHECK_FALSE(
      log.Add(Logged("mig", "other", "ALTER TABLE customers DROP x"), kT0, "shop", kWatched));
  CHECK(log.size() == 4);
  // Harmless or secret-bearing statements are never kept.
  CHECK_FALSE(log.Add(Logged("mig", "shop", "ALTER TABLE customers ADD COLUMN note text"), kT0,
                      "shop", kWatched));
  CHECK_FALSE(
      log.Add(Logged("dba", "shop", "ALTER ROLE app PASSWORD 'secret'"), kT0, "shop", kWatched));
  CHECK(log.size() == 4);
}

TEST_CASE("ddl_log: the statement that made the change names its role in the event") {
  DdlLog log;
  log.Add(Logged("mig", "shop", "ALTER TABLE public.orders ALTER COLUMN amount TYPE int USING 0"),
          kT0, "shop", kWatched);
  log.Add(Logged("cleanup_job", "shop", "ALTER TABLE customers DROP COLUMN email"), kT0, "shop",
          kWatched);
  SignalEvent ev = DdlEvent("drop_column", "public", "customers");
  CHECK(log.Attribute(&ev, "shop") == "cleanup_job");
  CHECK(ev.figures["attribution"]["source"] == "server_log");
  CHECK(ev.figures["attribution"]["statement"] == "ALTER TABLE customers DROP COLUMN email");
  CHECK(absl::StrContains(ev.description, "; by role cleanup_job (server log: ALTER TABLE"));
  // The type change is not the drop's statement, nor the other way round.
  SignalEvent retype = DdlEvent("alter_column_type", "public", "orders");
  CHECK(log.Attribute(&retype, "shop") == "mig");
  SignalEvent other = DdlEvent("alter_column_type", "public", "customers");
  CHECK(log.Attribute(&other, "shop").empty());
  CHECK_FALSE(other.figures.contains("attribution"));
  // The same ALTER in another database explains nothing here.
  SignalEvent elsewhere = DdlEvent("drop_column", "public", "customers");
  CHECK(log.Attribute(&elsewhere, "billing").empty());
}

TEST_CASE("ddl_log: DROP SCHEMA and DROP DATABASE explain their events") {
  DdlLog log;
  log.Add(Logged("ops", "shop", "DROP SCHEMA IF EXISTS archive, public CASCADE"), kT0, "shop",
          kWatched);
  log.Add(Logged("dba", "postgres", "DROP DATABASE shop WITH (FORCE)"), kT0, "shop", kWatched);
  SignalEvent schema = DdlEvent("drop_schema", "public", "");
  CHECK(log.Attribute(&schema, "shop") == "ops");
  SignalEvent db = DatabaseDropped("shop", "database \"shop\" does not exist", kT0);
  db.time = kT0 + absl::Seconds(2);
  // Logged from another database's session: DROP DATABASE is server-wide.
  CHECK(log.Attribute(&db, "shop") == "dba");
  CHECK(absl::StrContains(db.description, "DROP DATABASE shop WITH (FORCE)"));
}

TEST_CASE("ddl_log: statements older than the window explain nothing and are dropped") {
  DdlLog log(absl::Minutes(1));
  log.Add(Logged("mig", "shop", "ALTER TABLE customers DROP COLUMN email"), kT0, "shop", kWatched);
  SignalEvent ev = DdlEvent("drop_column", "public", "customers");
  ev.time = kT0 + absl::Minutes(2);
  CHECK(log.Attribute(&ev, "shop").empty());
  log.Add(Logged("mig", "shop", "ALTER TABLE orders DROP COLUMN note"), kT0 + absl::Minutes(2),
          "shop", kWatched);
  CHECK(log.size() == 1);
  for (size_t i = 0; i < DdlLog::kMax + 10; ++i) {
    log.Add(Logged("mig", "shop", "ALTER TABLE orders DROP COLUMN note"), kT0 + absl::Minutes(2),
            "shop", kWatched);
  }
  CHECK(log.size() == DdlLog::kMax);
}

}  // namespace
}  // namespace pgwarden
