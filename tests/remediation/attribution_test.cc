#include "remediation/attribution.h"

#include "absl/strings/match.h"
#include "catch2/catch.hpp"
#include "core/clock.h"
#include "tests/remediation/test_util.h"

namespace pgwarden {
namespace {

using testing::Shop;

TEST_CASE("attribution names the role that deleted most rows, with confidence",
          "[integration][attribution]") {
  auto shop = Shop::Start(20000);
  shop->AddRole("bulk", "SELECT, DELETE");
  shop->AddRole("tidy", "SELECT, DELETE");
  shop->AddRole("reader", "SELECT");
  auto agent = shop->AgentConnection();
  FakeClock clock;
  Attributor attributor(&clock);
  REQUIRE(attributor.Observe(*agent).ok());
  REQUIRE(attributor.snapshots() == 1);
  // A second Observe within the spacing does not take another baseline.
  REQUIRE(attributor.Observe(*agent).ok());
  CHECK(attributor.snapshots() == 1);

  const int64_t before = shop->Count();
  auto bulk = shop->Connect("bulk", "bulk-cleaner");
  auto tidy = shop->Connect("tidy", "tidy-app");
  auto reader = shop->Connect("reader", "report");
  for (int i = 0; i < 5; ++i) {
    pqxx::work w(*bulk);
    w.exec("DELETE FROM customers WHERE id IN (SELECT id FROM customers ORDER BY id LIMIT 1000)");
    w.commit();
  }
  for (int i = 0; i < 3; ++i) {
    pqxx::work w(*tidy);
    w.exec_params("DELETE FROM public.customers WHERE id = $1", 19990 + i);
    w.commit();
  }
  {
    pqxx::work w(*reader);
    w.exec("SELECT count(*) FROM customers");
    w.commit();
  }
  clock.Advance(absl::Seconds(10));
  const int64_t dropped = before - shop->Count();
  REQUIRE(dropped == 5003);

  AttributionRequest req;
  req.schema = "public";
  req.table = "customers";
  req.rows_dropped = dropped;
  absl::StatusOr<Attribution> a = attributor.Attribute(*agent, req);
  REQUIRE(a.ok());
  CHECK(a->statements_available);
  CHECK(a->oid > 0);
  REQUIRE(a->culprits.size() == 2);
  const Culprit& top = a->culprits[0];
  CHECK(top.role == "bulk");
  CHECK(top.rows_attributed == 5000);
  CHECK(top.confidence == Approx(5000.0 / 5003.0));
  CHECK(top.rows_per_second == Approx(500.0));
  CHECK(top.application == "bulk-cleaner");
  CHECK(top.client == "127.0.0.1");
  REQUIRE(top.pids.size() == 1);
  CHECK(top.pids[0] == bulk->backendpid());
  const Culprit& small = a->culprits[1];
  CHECK(small.role == "tidy");
  CHECK(small.rows_attributed == 3);
  CHECK(small.confidence < 0.01);
  CHECK(a->confidence == Approx(1.0));
  CHECK(a->rows_attributed == 5003);

  const nlohmann::json j = a->ToJson();
  CHECK(j["culprits"][0]["role"] == "bulk");
  CHECK(j["culprits"][0]["pids"][0] == bulk->backendpid());
  CHECK(absl::StrContains(a->Summary(), "role bulk"));
}

TEST_CASE("attribution without pg_stat_statements falls back to pg_stat_activity and pg_locks",
          "[integration][attribution]") {
  auto shop = Shop::Start(5000);
  shop->Exec("DROP EXTENSION pg_stat_statements");
  shop->AddRole("sneaky", "SELECT, DELETE");
  auto agent = shop->AgentConnection();
  FakeClock clock;
  Attributor attributor(&clock);
  REQUIRE(attributor.Observe(*agent).ok());
  CHECK(attributor.snapshots() == 0);

  // An open transaction that deleted rows and still holds its lock.
  auto sneaky = shop->Connect("sneaky", "psql");
  pqxx::work w(*sneaky);
  w.exec("DELETE FROM customers WHERE id <= 2000");
  // A role whose last statement updated the table removed nothing: it is
  // listed as evidence but never shares the suspicion.
  shop->AddRole("renamer", "SELECT, UPDATE");
  auto renamer = shop->Connect("renamer", "app");
  {
    pqxx::nontransaction u(*renamer);  // autocommit: the UPDATE stays its last statement
    u.exec("UPDATE customers SET name = 'x' WHERE id = 4000");
  }

  AttributionRequest req;
  req.schema = "public";
  req.table = "customers";
  req.rows_dropped = 2000;
  absl::StatusOr<Attribution> a = attributor.Attribute(*agent, req);
  REQUIRE(a.ok());
  CHECK_FALSE(a->statements_available);
  REQUIRE(a->culprits.size() == 2);
  CHECK(a->culprits[1].role == "renamer");
  CHECK(a->culprits[1].confidence == 0);
  CHECK(a->confidence == Approx(kActivityOnlyConfidence));
  const Culprit& c = a->culprits[0];
  CHECK(c.role == "sneaky");
  CHECK(c.in_flight);
  CHECK(c.rows_attributed == 0);
  CHECK(c.confidence == Approx(kActivityOnlyConfidence));
  REQUIRE(c.sessions.size() == 1);
  CHECK(absl::StrContains(c.sessions[0].lock_modes, "RowExclusiveLock"));
  CHECK(c.sessions[0].state == "idle in transaction");
  REQUIRE(a->lock_holders.size() == 1);
  CHECK(a->lock_holders[0].pid == sneaky->backendpid());
  w.abort();
}

// For an update_spike the rows a role's UPDATEs changed are its rows; for
// rows removed, the same UPDATEs stay evidence (rows_updated) only.
TEST_CASE("attribution of updates counts UPDATE rows - for removals they stay evidence",
          "[integration][attribution]") {
  auto shop = Shop::Start(20000);
  shop->AddRole("rewriter", "SELECT, UPDATE");
  shop->AddRole("tidy", "SELECT, DELETE");
  auto agent = shop->AgentConnection();
  FakeClock clock;
  Attributor attributor(&clock);
  REQUIRE(attributor.Observe(*agent).ok());
  auto rewriter = shop->Connect("rewriter", "overwrite-emails");
  auto tidy = shop->Connect("tidy", "tidy-app");
  for (int i = 0; i < 5; ++i) {
    pqxx::work w(*rewriter);
    w.exec_params("UPDATE customers SET name = 'overwritten' WHERE id > $1 AND id <= $2", i * 1000,
                  (i + 1) * 1000);
    w.commit();
  }
  {
    pqxx::work w(*tidy);
    w.exec("DELETE FROM customers WHERE id IN (19999, 20000)");
    w.commit();
  }
  clock.Advance(absl::Seconds(10));

  AttributionRequest req;
  req.schema = "public";
  req.table = "customers";
  req.updates = true;
  req.rows_dropped = 5000;
  absl::StatusOr<Attribution> a = attributor.Attribute(*agent, req);
  REQUIRE(a.ok());
  REQUIRE(a->Top() != nullptr);
  CHECK(a->Top()->role == "rewriter");
  CHECK(a->Top()->rows_attributed == 5000);
  CHECK(a->Top()->rows_updated == 5000);
  CHECK(a->Top()->confidence == Approx(1.0));
  CHECK(a->Top()->application == "overwrite-emails");
  for (const Culprit& c : a->culprits) {
    if (c.role == "tidy") CHECK(c.rows_attributed == 0);
  }

  req.updates = false;
  req.rows_dropped = 2;
  a = attributor.Attribute(*agent, req);
  REQUIRE(a.ok());
  REQUIRE(a->Top() != nullptr);
  CHECK(a->Top()->role == "tidy");
  CHECK(a->Top()->rows_attributed == 2);
  bool seen = false;
  for (const Culprit& c : a->culprits) {
    if (c.role != "rewriter") continue;
    seen = true;
    CHECK(c.rows_attributed == 0);
    CHECK(c.rows_updated == 5000);
    CHECK(c.confidence == 0);
  }
  CHECK(seen);
}

}  // namespace
}  // namespace pgwarden
