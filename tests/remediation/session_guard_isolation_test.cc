// The session guard beside an object the agent may not read, and the
// in-flight destructive DDL finding: a real PostgreSQL 15, the agent's
// least-privilege role.

#include <fstream>

#include "absl/strings/match.h"
#include "catch2/catch.hpp"
#include "core/clock.h"
#include "devtools/process.h"
#include "remediation/object_access.h"
#include "remediation/session_guard.h"
#include "tests/remediation/test_util.h"

namespace pgwarden {
namespace {

using testing::Shop;
using testing::WaitFor;

RemediationConfig Config(RemediationMode mode) {
  RemediationConfig c;
  c.mode = mode;
  c.protected_roles = {"postgres", "pgwarden"};
  c.cancel_grace = absl::Milliseconds(200);
  return c;
}

TEST_CASE("session guard: an unreadable watched schema is listed once, the rest still guarded",
          "[integration][session_guard]") {
  auto shop = Shop::Start(3000);
  shop->Exec(
      "CREATE SCHEMA archive; CREATE TABLE archive.old (id int); "
      "REVOKE ALL ON SCHEMA archive FROM PUBLIC");
  shop->AddRole("oops", "SELECT, DELETE");
  auto agent = shop->AgentConnection();
  const std::vector<TableRef> watched = {{"archive", "old"}, {"public", "customers"}};
  SessionGuard guard(Config(RemediationMode::kOff), nullptr, RealClock::Get());
  auto oops = shop->Connect("oops", "console");
  pqxx::work tx(*oops);
  tx.exec("DELETE FROM customers");
  const int64_t failed_before = agent->FailedStatements();
  std::vector<SessionFinding> found;
  WaitFor(
      [&] {
        absl::StatusOr<std::vector<SessionFinding>> f = guard.Check(*agent, "iso", watched);
        REQUIRE(f.ok());  // the unreadable schema never fails the check
        found.clear();
        for (SessionFinding& x : *f) {
          if (x.session.role == "oops" && x.certain) found.push_back(std::move(x));
        }
        return !found.empty();
      },
      10);
  REQUIRE(found.size() == 1);
  CHECK(found[0].table.table == "customers");
  CHECK(found[0].statement == "DELETE without WHERE");
  // Nothing the guard ran failed on the server.
  CHECK(agent->FailedStatements() == failed_before);
  REQUIRE(guard.unreadable().size() == 1);
  const ObjectError& e = guard.unreadable()[0];
  CHECK(e.kind == "schema");
  CHECK(e.name == "archive");
  CHECK(e.privilege == "USAGE");
  CHECK(e.grant_sql == "GRANT USAGE ON SCHEMA \"archive\" TO \"pgwarden\";");
  CHECK(ObjectErrors::Get().Count("iso") == 1);  // once, however many checks
  CHECK(ObjectErrors::Get().Json("iso").size() == 1);
  tx.abort();
}

TEST_CASE(
    "session guard: ALTER TABLE DROP COLUMN waiting for its lock is destructive_ddl, "
    "cancelled in enforce mode",
    "[integration][session_guard]") {
  auto shop = Shop::Start(1000);
  shop->AddRole("reader", "SELECT");
  shop->Exec("CREATE ROLE migrator LOGIN PASSWORD 'pw'; GRANT app_owner TO migrator");
  auto agent = shop->AgentConnection();
  RemediationConfig config = Config(RemediationMode::kEnforce);
  auto rem = Remediator::Create(config, "pgwarden", shop->tmp() + "/audit.log", nullptr, {},
                                RealClock::Get());
  REQUIRE(rem.ok());
  SessionGuard guard(config, rem->get(), RealClock::Get());
  auto reader = shop->Connect("reader", "report");
  pqxx::work hold(*reader);
  hold.exec("SELECT count(*) FROM customers");
  const pid_t alter =
      shop->SpawnPsql("migrator", "migration", "ALTER TABLE customers DROP COLUMN name");
  std::vector<SessionFinding> found;
  WaitFor(
      [&] {
        absl::StatusOr<std::vector<SessionFinding>> f =
            guard.Check(*agent, "shop", {{"public", "customers"}});
        REQUIRE(f.ok());
        found.clear();
        for (SessionFinding& x : *f) {
          if (x.kind == FindingKind::kDestructiveDdl) found.push_back(std::move(x));
        }
        return !found.empty();
      },
      10);
  REQUIRE(found.size() == 1);
  CHECK(std::string(FindingKindName(found[0].kind)) == "destructive_ddl");
  CHECK(found[0].session.role == "migrator");
  CHECK(found[0].statement == "ALTER TABLE ... DROP COLUMN name (waiting for its lock)");
  REQUIRE(found[0].actions.size() == 1);
  CHECK(found[0].actions[0].action == ActionKind::kCancel);
  CHECK(found[0].actions[0].result == ActionResult::kDone);
  absl::StatusOr<int> exit = WaitProcess(alter, absl::Seconds(10));
  if (!exit.ok()) StopProcess(alter, absl::Seconds(1));
  hold.abort();
  REQUIRE(exit.ok());
  CHECK(*exit != 0);
  std::ifstream out(shop->tmp() + "/psql.out");
  const std::string psql((std::istreambuf_iterator<char>(out)), std::istreambuf_iterator<char>());
  CHECK(absl::StrContains(psql, "canceling statement due to user request"));
  CHECK(shop->Scalar("SELECT count(*) FROM information_schema.columns WHERE table_name = "
                     "'customers' AND column_name = 'name'") == "1");
}

}  // namespace
}  // namespace pgwarden
