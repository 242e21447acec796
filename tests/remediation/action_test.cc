// Each remediation action's plan (exact SQL and undo SQL) for ordinary and
// hostile names, and what it runs, against a FakeSession.

#include "remediation/action.h"

#include <string>
#include <vector>

#include "catch2/catch.hpp"
#include "core/clock.h"
#include "pg/fake_session.h"
#include "remediation/grants.h"

namespace pgwarden {
namespace {

using pg::FakeSession;

constexpr char kHostile[] = "x\"; DROP TABLE customers; --";

ActionContext Context(const RemediationConfig* config, const Clock* clock) {
  return ActionContext{config, clock};
}

TEST_CASE("the action table lists nologin, terminate, revoke_writes in run order",
          "[remediation][actions]") {
  const std::vector<ActionSpec>& table = IncidentActions();
  REQUIRE(table.size() == 3);
  CHECK(table[0].kind == ActionKind::kNologin);
  CHECK(table[1].kind == ActionKind::kTerminate);
  CHECK(table[2].kind == ActionKind::kRevokeWrites);
  for (const ActionSpec& spec : table) CHECK(spec.make()->kind() == spec.kind);
  CHECK(MakeAction(ActionKind::kRevokeWrites)->per_table());
  CHECK_FALSE(MakeAction(ActionKind::kNologin)->per_table());
  CHECK(MakeAction(ActionKind::kCancel) == nullptr);
  CHECK(MakeAction(ActionKind::kUndo) == nullptr);
}

TEST_CASE("nologin plans ALTER ROLE with the name quoted as one identifier",
          "[remediation][actions]") {
  FakeSession s;
  auto nologin = MakeNologinAction();
  ActionPlan p = nologin->Plan(s, "cleanup_job", {});
  CHECK(p.sql == "ALTER ROLE \"cleanup_job\" NOLOGIN");
  CHECK(p.undo_sql == "ALTER ROLE \"cleanup_job\" LOGIN");
  ActionPlan h = nologin->Plan(s, kHostile, {});
  CHECK(h.sql == "ALTER ROLE \"x\"\"; DROP TABLE customers; --\" NOLOGIN");
  CHECK(h.undo_sql == "ALTER ROLE \"x\"\"; DROP TABLE customers; --\" LOGIN");
  CHECK(s.calls().empty());  // planning reads nothing
}

TEST_CASE("nologin inspects rolcanlogin and runs exactly its SQL", "[remediation][actions]") {
  RemediationConfig config;
  config.statement_timeout = absl::Seconds(3);
  FakeClock clock;
  auto nologin = MakeNologinAction();
  {
    FakeSession s;
    s.On("rolcanlogin", FakeSession::Rows({{"t"}}));
    ActionPlan p = nologin->Plan(s, "cleanup_job", {});
    REQUIRE(nologin->Inspect(s, &p).ok());
    CHECK_FALSE(p.nothing_to_do);
    REQUIRE(s.calls().size() == 1);
    CHECK(s.calls()[0].params == pg::Params{"cleanup_job"});
    ActionRecord r = nologin->Run(s, p, Context(&config, &clock));
    CHECK(r.result == ActionResult::kDone);
    CHECK(s.Executed() == std::vector<std::string>{"ALTER ROLE \"cleanup_job\" NOLOGIN"});
    CHECK(s.calls().back().timeout == absl::Seconds(3));
  }
  {
    FakeSession s;
    s.On("rolcanlogin", FakeSession::Rows({{"f"}}));
    ActionPlan p = nologin->Plan(s, "cleanup_job", {});
    REQUIRE(nologin->Inspect(s, &p).ok());
    CHECK(p.nothing_to_do);
    CHECK(p.sql.empty());
    CHECK(p.undo_sql.empty());
    CHECK(p.note == "role already has NOLOGIN; nothing to run");
  }
  {
    FakeSession s;
    s.On("rolcanlogin", FakeSession::Rows({}));
    ActionPlan p = nologin->Plan(s, "gone", {});
    absl::Status st = nologin->Inspect(s, &p);
    CHECK(absl::IsNotFound(st));
    CHECK(st.message() == "role does not exist");
  }
  {
    FakeSession s;
    s.On("rolcanlogin", FakeSession::Rows({{"t"}}));
    s.On("ALTER ROLE", absl::PermissionDeniedError("permission denied to alter role"));
    ActionPlan p = nologin->Plan(s, "cleanup_job", {});
    REQUIRE(nologin->Inspect(s, &p).ok());
    ActionRecord r = nologin->Run(s, p, Context(&config, &clock));
    CHECK(r.result == ActionResult::kFailed);
    CHECK(r.reason == "permission denied to alter role");
    CHECK(r.sql == p.sql);
  }
}

TEST_CASE("terminate plans cancel-then-terminate with the role as a literal, and no undo",
          "[remediation][actions]") {
  FakeSession s;
  auto terminate = MakeTerminateAction();
  ActionPlan p = terminate->Plan(s, "it's", {});
  CHECK(p.sql ==
        "SELECT pid, pg_cancel_backend(pid) FROM pg_stat_activity WHERE usename = 'it''s' AND "
        "pid <> pg_backend_pid() AND state = 'active'; SELECT pid, pg_terminate_backend(pid, 2000) "
        "FROM pg_stat_activity WHERE usename = 'it''s' AND pid <> pg_backend_pid()");
  CHECK(p.undo_sql.empty());
}

TEST_CASE("terminate cancels, waits on the injected clock, terminates and settles",
          "[remediation][actions]") {
  RemediationConfig config;
  config.cancel_grace = absl::Milliseconds(500);
  FakeClock clock;
  const absl::Time start = clock.Now();
  FakeSession s;
  s.On("ORDER BY pid", FakeSession::Rows({{"101"}, {"102"}}));
  s.On("pg_cancel_backend", FakeSession::Rows({{"101", "t"}}));
  // Still active on the first two looks, then stopped.
  s.OnSequence("count(*)", {FakeSession::Rows({{"1"}}), FakeSession::Rows({{"1"}}),
                            FakeSession::Rows({{"0"}})});
  s.On("pg_terminate_backend", FakeSession::Rows({{"101", "t"}, {"102", "f"}}));
  // 102 was not signalled: it is gone a moment later.
  s.On("pid = ANY", FakeSession::Rows({}));
  auto terminate = MakeTerminateAction();
  ActionPlan p = terminate->Plan(s, "cleanup_job", {});
  REQUIRE(terminate->Inspect(s, &p).ok());
  CHECK(p.details["pids"] == nlohmann::json::array({101, 102}));
  ActionRecord r = terminate->Run(s, p, Context(&config, &clock));
  CHECK(r.result == ActionResult::kDone);
  CHECK(r.details["cancelled"] == nlohmann::json::array({101}));
  CHECK(r.details["terminated"] == nlohmann::json::array({101}));
  CHECK(r.details["ended"] == nlohmann::json::array({102}));
  // Two 50 ms waits while the statement was still active: the fake clock moved.
  CHECK(clock.Now() - start == absl::Milliseconds(100));
}

TEST_CASE("terminate reports survivors as a failure", "[remediation][actions]") {
  RemediationConfig config;
  FakeClock clock;
  FakeSession s;
  s.On("pg_cancel_backend", FakeSession::Rows({}));
  s.On("pg_terminate_backend", FakeSession::Rows({{"7", "f"}}));
  s.On("pid = ANY", FakeSession::Rows({{"7"}}));  // still there after the settle time
  auto terminate = MakeTerminateAction();
  ActionPlan p = terminate->Plan(s, "stuck", {});
  ActionRecord r = terminate->Run(s, p, Context(&config, &clock));
  CHECK(r.result == ActionResult::kFailed);
  CHECK(r.reason == "backends still alive after 2000ms: 7");
  CHECK(r.details["survived"] == nlohmann::json::array({7}));
}

TEST_CASE("revoke_writes plans REVOKE with schema, table and role quoted",
          "[remediation][actions]") {
  FakeSession s;
  auto revoke = MakeRevokeWritesAction();
  ActionPlan p = revoke->Plan(s, "cleanup_job", TableRef{"public", "customers"});
  CHECK(p.sql ==
        "REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON TABLE \"public\".\"customers\" FROM "
        "\"cleanup_job\"");
  ActionPlan h = revoke->Plan(s, kHostile, TableRef{"we\"ird", "ta ble"});
  CHECK(h.sql ==
        "REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON TABLE \"we\"\"ird\".\"ta ble\" FROM "
        "\"x\"\"; DROP TABLE customers; --\"");
}

TEST_CASE("revoke_writes predicts its undo, then undoes exactly what the REVOKE removed",
          "[remediation][actions]") {
  RemediationConfig config;
  FakeClock clock;
  FakeSession s;
  // Before: DELETE and SELECT from the owner, UPDATE (grantable) from the
  // owner, INSERT from another grantor. After: the other grantor's INSERT
  // and SELECT remain.
  s.OnSequence("aclexplode",
               {FakeSession::Rows({{"DELETE", "app_owner", "f"},
                                   {"INSERT", "other", "f"},
                                   {"SELECT", "app_owner", "f"},
                                   {"UPDATE", "app_owner", "t"}}),
                FakeSession::Rows({{"INSERT", "other", "f"}, {"SELECT", "app_owner", "f"}})});
  s.On("pg_get_userbyid", FakeSession::Rows({{"app_owner"}}));
  s.On("has_table_privilege", FakeSession::Rows({{"f", "f"}}));
  auto revoke = MakeRevokeWritesAction();
  const TableRef t{"public", "customers"};
  ActionPlan p = revoke->Plan(s, "cleanup_job", t);
  REQUIRE(revoke->Inspect(s, &p).ok());
  CHECK(p.undo_sql ==
        "GRANT DELETE ON TABLE \"public\".\"customers\" TO \"cleanup_job\"; GRANT UPDATE ON TABLE "
        "\"public\".\"customers\" TO \"cleanup_job\" WITH GRANT OPTION");
  ActionRecord r = revoke->Run(s, p, Context(&config, &clock));
  CHECK(r.result == ActionResult::kDone);
  CHECK(s.Executed() == std::vector<std::string>{p.sql});
  CHECK(r.undo_sql == p.undo_sql);
  CHECK(r.details["grants_removed"].size() == 2);
  CHECK(r.reason.empty());
}

TEST_CASE("revoke_writes says when the role can still delete", "[remediation][actions]") {
  RemediationConfig config;
  FakeClock clock;
  FakeSession s;
  s.On("aclexplode", FakeSession::Rows({}));
  s.On("has_table_privilege", FakeSession::Rows({{"t", "f"}}));
  auto revoke = MakeRevokeWritesAction();
  ActionPlan p = revoke->Plan(s, "r", TableRef{"public", "t"});
  REQUIRE(revoke->Inspect(s, &p).ok());
  ActionRecord r = revoke->Run(s, p, Context(&config, &clock));
  CHECK(r.result == ActionResult::kDone);
  CHECK(r.details["still_can_delete"] == true);
  CHECK(r.undo_sql.empty());
}

}  // namespace
}  // namespace pgwarden
