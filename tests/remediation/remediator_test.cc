#include "remediation/remediator.h"

#include <signal.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "catch2/catch.hpp"
#include "core/clock.h"
#include "devtools/process.h"
#include "prometheus/registry.h"
#include "remediation/attribution.h"
#include "remediation/undo.h"
#include "tests/remediation/test_util.h"

namespace pgwarden {
namespace {

using testing::AuditLines;
using testing::EnforceConfig;
using testing::HandAttribution;
using testing::Request;
using testing::Shop;
using testing::WaitFor;

std::string BatchDeleteScript(int batches, double pause_seconds) {
  return absl::StrCat(
      "DO $$ BEGIN FOR i IN 1..", batches,
      " LOOP DELETE FROM customers WHERE id IN (SELECT id FROM customers ORDER BY id LIMIT 1000); "
      "COMMIT; PERFORM pg_sleep(",
      pause_seconds, "); END LOOP; PERFORM pg_sleep(60); END $$");
}

double CounterValue(prometheus::Registry& registry, const std::string& action,
                    const std::string& result) {
  for (const auto& family : registry.Collect()) {
    if (family.name != "pgwarden_remediation_actions_total") continue;
    for (const auto& m : family.metric) {
      bool a = false, r = false;
      for (const auto& l : m.label) {
        if (l.name == "action" && l.value == action) a = true;
        if (l.name == "result" && l.value == result) r = true;
      }
      if (a && r) return m.counter.value;
    }
  }
  return 0;
}

// AttributeLive waits until at least `rows` rows are gone, then attributes.
Attribution AttributeLive(Shop& shop, Attributor& attributor, pg::Session& agent, int64_t initial,
                          int64_t rows) {
  REQUIRE(WaitFor([&] { return shop.Count() <= initial - rows; }, 30));
  AttributionRequest req;
  req.schema = "public";
  req.table = "customers";
  req.rows_dropped = initial - shop.Count();
  absl::StatusOr<Attribution> a = attributor.Attribute(agent, req);
  REQUIRE(a.ok());
  return *a;
}

TEST_CASE("enforce: a role deleting in batches loses login, sessions and DELETE",
          "[integration][remediation]") {
  const int64_t initial = 100000;
  auto shop = Shop::Start(initial);
  shop->AddRole("cleaner", "SELECT, DELETE");
  auto agent = shop->AgentConnection();
  Attributor attributor(RealClock::Get());
  REQUIRE(attributor.Observe(*agent).ok());
  const pid_t psql = shop->SpawnPsql("cleaner", "cleanup.sh", BatchDeleteScript(100, 0.1));

  Attribution a = AttributeLive(*shop, attributor, *agent, initial, 3000);
  REQUIRE(a.Top() != nullptr);
  REQUIRE(a.Top()->role == "cleaner");
  CHECK(a.Top()->application == "cleanup.sh");

  prometheus::Registry registry;
  auto rem = Remediator::Create(EnforceConfig(), "pgwarden", shop->tmp() + "/audit.log", &registry,
                                {{"environment", "test"}}, RealClock::Get());
  REQUIRE(rem.ok());
  std::vector<ActionRecord> recs = (*rem)->Act(*agent, Request("inc-1", a));
  REQUIRE(recs.size() == 3);
  CHECK(recs[0].action == ActionKind::kNologin);
  CHECK(recs[1].action == ActionKind::kTerminate);
  CHECK(recs[2].action == ActionKind::kRevokeWrites);
  for (const ActionRecord& r : recs) {
    INFO(r.ToJson().dump());
    CHECK(r.result == ActionResult::kDone);
  }
  CHECK(recs[0].sql == "ALTER ROLE \"cleaner\" NOLOGIN");
  CHECK(recs[2].undo_sql == "GRANT DELETE ON TABLE \"public\".\"customers\" TO \"cleaner\"");

  CHECK_FALSE(shop->CanLogin("cleaner"));
  absl::StatusOr<int> code = WaitProcess(psql, absl::Seconds(15));
  REQUIRE(code.ok());
  CHECK(*code != 0);
  CHECK(shop->SessionsOf("cleaner") == 0);
  CHECK_FALSE(shop->HasPrivilege("cleaner", "public.customers", "DELETE"));
  CHECK(shop->HasPrivilege("cleaner", "public.customers", "SELECT"));
  const int64_t kept = shop->Count();
  CHECK(kept > initial / 2);
  ::usleep(300000);
  CHECK(shop->Count() == kept);
  // It cannot come back.
  CHECK_THROWS(shop->Connect("cleaner", "retry"));

  std::vector<AuditRecord> audit = AuditLines(shop->tmp() + "/audit.log");
  REQUIRE(audit.size() == 3);
  for (size_t i = 0; i < audit.size(); ++i) {
    CHECK(audit[i].id == recs[i].id);
    CHECK(audit[i].result == ActionResult::kDone);
    CHECK(audit[i].incident == "inc-1");
    CHECK(audit[i].role == "cleaner");
    CHECK(audit[i].sql == recs[i].sql);
    CHECK(audit[i].undo_sql == recs[i].undo_sql);
  }
  CHECK(audit[0].id < audit[1].id);
  CHECK(audit[1].id < audit[2].id);
  CHECK(CounterValue(registry, "nologin", "done") == 1);
  CHECK(CounterValue(registry, "revoke_writes", "done") == 1);
}

TEST_CASE("dry-run changes nothing and records what it would run", "[integration][remediation]") {
  const int64_t initial = 100000;
  auto shop = Shop::Start(initial);
  shop->AddRole("cleaner", "SELECT, DELETE");
  auto agent = shop->AgentConnection();
  Attributor attributor(RealClock::Get());
  REQUIRE(attributor.Observe(*agent).ok());
  const pid_t psql = shop->SpawnPsql("cleaner", "cleanup.sh", BatchDeleteScript(100, 0.1));
  Attribution a = AttributeLive(*shop, attributor, *agent, initial, 2000);

  RemediationConfig config = EnforceConfig();
  config.mode = RemediationMode::kDryRun;
  prometheus::Registry registry;
  auto rem = Remediator::Create(config, "pgwarden", shop->tmp() + "/audit.log", &registry,
                                {{"environment", "test"}}, RealClock::Get());
  REQUIRE(rem.ok());
  std::vector<ActionRecord> recs = (*rem)->Act(*agent, Request("inc-dry", a));
  REQUIRE(recs.size() == 3);
  for (const ActionRecord& r : recs) CHECK(r.result == ActionResult::kDryRun);
  CHECK(recs[0].sql == "ALTER ROLE \"cleaner\" NOLOGIN");
  CHECK(recs[0].undo_sql == "ALTER ROLE \"cleaner\" LOGIN");
  CHECK(absl::StrContains(recs[1].sql, "pg_terminate_backend"));
  CHECK(recs[1].details["pids"].size() == 1);
  CHECK(recs[2].sql ==
        "REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON TABLE \"public\".\"customers\" FROM "
        "\"cleaner\"");
  CHECK(recs[2].undo_sql == "GRANT DELETE ON TABLE \"public\".\"customers\" TO \"cleaner\"");

  CHECK(shop->CanLogin("cleaner"));
  CHECK(shop->SessionsOf("cleaner") == 1);
  CHECK(shop->HasPrivilege("cleaner", "public.customers", "DELETE"));
  const int64_t now = shop->Count();
  CHECK(WaitFor([&] { return shop->Count() < now; }, 10));  // still deleting
  StopProcess(psql, absl::Seconds(2));
  shop->Exec("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = 'cleaner'");

  std::vector<AuditRecord> audit = AuditLines(shop->tmp() + "/audit.log");
  REQUIRE(audit.size() == 3);
  for (size_t i = 0; i < 3; ++i) {
    CHECK(audit[i].result == ActionResult::kDryRun);
    CHECK(audit[i].mode == RemediationMode::kDryRun);
    CHECK(audit[i].sql == recs[i].sql);
  }
  CHECK(CounterValue(registry, "nologin", "dry_run") == 1);
}

TEST_CASE("a hostile role name is handled as a name", "[integration][remediation]") {
  const int64_t initial = 10000;
  auto shop = Shop::Start(initial);
  const std::string evil = "x\"; DROP TABLE customers; --";
  shop->AddRole(evil, "SELECT, DELETE");
  auto agent = shop->AgentConnection();
  Attributor attributor(RealClock::Get());
  REQUIRE(attributor.Observe(*agent).ok());
  const pid_t psql = shop->SpawnPsql(evil, "evil", BatchDeleteScript(2, 0));
  Attribution a = AttributeLive(*shop, attributor, *agent, initial, 2000);
  REQUIRE(a.Top() != nullptr);
  REQUIRE(a.Top()->role == evil);

  auto rem = Remediator::Create(EnforceConfig(), "pgwarden", shop->tmp() + "/audit.log", nullptr,
                                {}, RealClock::Get());
  REQUIRE(rem.ok());
  std::vector<ActionRecord> recs = (*rem)->Act(*agent, Request("inc-evil", a));
  REQUIRE(recs.size() == 3);
  for (const ActionRecord& r : recs) {
    INFO(r.ToJson().dump());
    CHECK(r.result == ActionResult::kDone);
  }
  CHECK(recs[0].sql == "ALTER ROLE \"x\"\"; DROP TABLE customers; --\" NOLOGIN");
  CHECK(shop->Scalar("SELECT to_regclass('public.customers')::text") == "customers");
  CHECK(shop->Count() == initial - 2000);
  CHECK_FALSE(shop->CanLogin(evil));
  CHECK_FALSE(shop->HasPrivilege(evil, "public.customers", "DELETE"));
  REQUIRE(WaitProcess(psql, absl::Seconds(15)).ok());
  CHECK(shop->SessionsOf(evil) == 0);
}

TEST_CASE("guards refuse superuser, protected, own, owner, low confidence, few rows",
          "[integration][remediation]") {
  auto shop = Shop::Start(100);
  shop->Exec("CREATE ROLE dba LOGIN SUPERUSER");
  shop->AddRole("batch_job", "SELECT, DELETE");
  shop->AddRole("cleaner", "SELECT, DELETE");
  auto agent = shop->AgentConnection();
  RemediationConfig config = EnforceConfig();
  config.protected_roles = {"postgres", "batch_job"};
  const std::string audit_path = shop->tmp() + "/audit.log";
  prometheus::Registry registry;
  auto rem = Remediator::Create(config, "pgwarden", audit_path, &registry, {}, RealClock::Get());
  REQUIRE(rem.ok());

  struct Case {
    std::string role;
    int64_t rows;
    double confidence;
    std::string reason;
  };
  const std::vector<Case> cases = {
      {"dba", 5000, 1.0, "superuser"},
      {"batch_job", 5000, 1.0, "protected role"},
      {"pgwarden", 5000, 1.0, "the agent's own role"},
      {"app_owner", 5000, 1.0, "owner of the affected table public.customers"},
      {"cleaner", 5000, 0.3, "attribution confidence 0.30 is below min_confidence 0.50"},
      {"cleaner", 10, 1.0, "10 rows attributed, below min_rows 1000"},
  };
  size_t expected_lines = 0;
  for (const Case& c : cases) {
    INFO(c.role << " " << c.reason);
    const bool could_login = shop->CanLogin(c.role);
    std::vector<ActionRecord> recs = (*rem)->Act(
        *agent, Request("inc-" + c.role, HandAttribution(c.role, c.rows, c.confidence)));
    REQUIRE(recs.size() == 3);
    for (const ActionRecord& r : recs) {
      CHECK(r.result == ActionResult::kRefused);
      CHECK(absl::StrContains(r.reason, c.reason));
    }
    CHECK(shop->CanLogin(c.role) == could_login);
    expected_lines += 3;
    std::vector<AuditRecord> audit = AuditLines(audit_path);
    REQUIRE(audit.size() == expected_lines);
    CHECK(audit.back().result == ActionResult::kRefused);
    CHECK(audit.back().role == c.role);
    CHECK(absl::StrContains(audit.back().reason, c.reason));
  }
  CHECK(shop->HasPrivilege("cleaner", "public.customers", "DELETE"));
  CHECK(shop->HasPrivilege("batch_job", "public.customers", "DELETE"));
  // The same incident again (the agent calls Act on every tick): nothing new.
  CHECK((*rem)->Act(*agent, Request("inc-dba", HandAttribution("dba", 5000, 1.0))).empty());
  CHECK(AuditLines(audit_path).size() == expected_lines);
  const nlohmann::json status = (*rem)->Status();
  CHECK(status["mode"] == "enforce");
  CHECK(status["leader"] == true);
  CHECK(status["recent"].size() == expected_lines);
  CHECK(CounterValue(registry, "nologin", "refused") == cases.size());
  CHECK(CounterValue(registry, "nologin", "done") == 0);
}

TEST_CASE("rate limit: at most N roles per hour, audited", "[integration][remediation]") {
  auto shop = Shop::Start(100);
  shop->AddRole("r1", "SELECT, DELETE");
  shop->AddRole("r2", "SELECT, DELETE");
  auto agent = shop->AgentConnection();
  RemediationConfig config = EnforceConfig();
  config.max_roles_per_hour = 1;
  config.actions = {ActionKind::kNologin};
  FakeClock clock(absl::Now());
  const std::string audit_path = shop->tmp() + "/audit.log";
  auto rem = Remediator::Create(config, "pgwarden", audit_path, nullptr, {}, &clock);
  REQUIRE(rem.ok());
  auto first = (*rem)->Act(*agent, Request("inc-a", HandAttribution("r1", 5000, 1)));
  REQUIRE(first.size() == 1);
  CHECK(first[0].result == ActionResult::kDone);
  CHECK_FALSE(shop->CanLogin("r1"));

  clock.Advance(absl::Minutes(30));
  auto second = (*rem)->Act(*agent, Request("inc-b", HandAttribution("r2", 5000, 1)));
  REQUIRE(second.size() == 1);
  CHECK(second[0].result == ActionResult::kRefused);
  CHECK(absl::StrContains(second[0].reason, "rate limit"));
  CHECK(shop->CanLogin("r2"));
  std::vector<AuditRecord> audit = AuditLines(audit_path);
  REQUIRE(audit.size() == 2);
  CHECK(audit[1].result == ActionResult::kRefused);
  CHECK(absl::StrContains(audit[1].reason, "max_roles_per_hour 1"));

  // The limit survives a restart: a new Remediator reads the audit file.
  rem->reset();
  auto again = Remediator::Create(config, "pgwarden", audit_path, nullptr, {}, &clock);
  REQUIRE(again.ok());
  auto third = (*again)->Act(*agent, Request("inc-c", HandAttribution("r2", 5000, 1)));
  REQUIRE(third.size() == 1);
  CHECK(third[0].result == ActionResult::kRefused);
  CHECK(third[0].id > second[0].id);  // audit ids continue across restarts

  // An hour after the first action the window has room again.
  clock.Advance(absl::Minutes(31));
  auto fourth = (*again)->Act(*agent, Request("inc-d", HandAttribution("r2", 5000, 1)));
  REQUIRE(fourth.size() == 1);
  CHECK(fourth[0].result == ActionResult::kDone);
  CHECK_FALSE(shop->CanLogin("r2"));
}

TEST_CASE("two agents on one database: exactly one acts (advisory lock)",
          "[integration][remediation]") {
  auto shop = Shop::Start(100);
  shop->AddRole("cleaner", "SELECT, DELETE");
  auto conn_a = shop->AgentConnection();
  auto conn_b = shop->AgentConnection();
  auto rem_a = Remediator::Create(EnforceConfig(), "pgwarden", shop->tmp() + "/a.log", nullptr, {},
                                  RealClock::Get());
  auto rem_b = Remediator::Create(EnforceConfig(), "pgwarden", shop->tmp() + "/b.log", nullptr, {},
                                  RealClock::Get());
  REQUIRE(rem_a.ok());
  REQUIRE(rem_b.ok());
  const RemediationRequest req = Request("inc-ha", HandAttribution("cleaner", 5000, 1));
  std::vector<ActionRecord> a = (*rem_a)->Act(*conn_a, req);
  std::vector<ActionRecord> b = (*rem_b)->Act(*conn_b, req);
  int done = 0, refused = 0;
  for (const auto* recs : {&a, &b}) {
    for (const ActionRecord& r : *recs) {
      if (r.result == ActionResult::kDone) ++done;
      if (r.result == ActionResult::kRefused) {
        ++refused;
        CHECK(absl::StrContains(r.reason, "advisory lock"));
      }
    }
  }
  CHECK(done == 3);
  CHECK(refused == 3);
  CHECK(AuditLines(shop->tmp() + "/a.log").size() == 3);
  CHECK(AuditLines(shop->tmp() + "/b.log").size() == 3);
  CHECK_FALSE(shop->CanLogin("cleaner"));

  // The leader goes away: the other agent takes over.
  absl::StatusOr<bool> b_leads = (*rem_b)->IsLeader(*conn_b);
  REQUIRE(b_leads.ok());
  CHECK_FALSE(*b_leads);
  conn_a.reset();
  CHECK(WaitFor(
      [&] {
        absl::StatusOr<bool> l = (*rem_b)->IsLeader(*conn_b);
        return l.ok() && *l;
      },
      10));
  // A new incident: the new leader acts (the role is already NOLOGIN).
  std::vector<ActionRecord> takeover =
      (*rem_b)->Act(*conn_b, Request("inc-ha-2", HandAttribution("cleaner", 5000, 1)));
  REQUIRE(takeover.size() == 3);
  for (const ActionRecord& r : takeover) CHECK(r.result == ActionResult::kDone);
  CHECK(absl::StrContains(takeover[0].reason, "already has NOLOGIN"));
}

std::string AclOf(Shop& shop) {
  return shop.Scalar(
      "SELECT string_agg(format('%s/%s/%s/%s', a.grantor::regrole, a.grantee::regrole, "
      "a.privilege_type, a.is_grantable), ' ' ORDER BY 1) "
      "FROM pg_class c, aclexplode(c.relacl) a WHERE c.oid = 'public.customers'::regclass");
}

TEST_CASE("undo restores login and grants exactly", "[integration][remediation]") {
  auto shop = Shop::Start(100);
  shop->AddRole("cleaner", "SELECT, INSERT, DELETE");
  shop->AddRole("lead", "UPDATE");
  // A grant with grant option, and one made by another grantor.
  shop->Exec(
      "SET ROLE app_owner; GRANT TRUNCATE ON customers TO cleaner WITH GRANT OPTION; "
      "GRANT UPDATE ON customers TO lead WITH GRANT OPTION; RESET ROLE");
  shop->Exec("SET ROLE lead; GRANT UPDATE ON customers TO cleaner; RESET ROLE");
  const std::string acl_before = AclOf(*shop);
  REQUIRE(absl::StrContains(acl_before, "app_owner/cleaner/TRUNCATE/t"));
  REQUIRE(absl::StrContains(acl_before, "lead/cleaner/UPDATE/f"));

  auto agent = shop->AgentConnection();
  RemediationConfig config = EnforceConfig();
  config.actions = {ActionKind::kNologin, ActionKind::kRevokeWrites, ActionKind::kTerminate};
  const std::string audit_path = shop->tmp() + "/audit.log";
  auto rem = Remediator::Create(config, "pgwarden", audit_path, nullptr, {}, RealClock::Get());
  REQUIRE(rem.ok());
  auto recs = (*rem)->Act(*agent, Request("inc-u", HandAttribution("cleaner", 5000, 1)));
  REQUIRE(recs.size() == 3);
  for (const ActionRecord& r : recs) REQUIRE(r.result == ActionResult::kDone);
  CHECK_FALSE(shop->CanLogin("cleaner"));
  const std::string acl_revoked = AclOf(*shop);
  CHECK(acl_revoked != acl_before);
  CHECK_FALSE(absl::StrContains(acl_revoked, "app_owner/cleaner/DELETE"));
  // The grant made by `lead` is not ours to revoke; it is reported.
  CHECK(absl::StrContains(acl_revoked, "lead/cleaner/UPDATE/f"));
  CHECK(recs[2].undo_sql ==
        "GRANT DELETE, INSERT ON TABLE \"public\".\"customers\" TO \"cleaner\"; GRANT TRUNCATE ON "
        "TABLE \"public\".\"customers\" TO \"cleaner\" WITH GRANT OPTION");

  absl::StatusOr<AuditRecord> found = AuditLog::Find(audit_path, recs[2].id);
  REQUIRE(found.ok());
  CHECK(found->target == "shop");
  CHECK(found->action == ActionKind::kRevokeWrites);
  CHECK(found->undo_sql == recs[2].undo_sql);
  FakeClock clock;
  // terminate cannot be undone.
  absl::StatusOr<AuditRecord> t = Undo(*agent, audit_path, recs[1].id, &clock);
  CHECK(absl::IsFailedPrecondition(t.status()));
  for (const ActionRecord& r : {recs[0], recs[2]}) {
    absl::StatusOr<AuditRecord> u = Undo(*agent, audit_path, r.id, &clock);
    INFO(u.status().ToString());
    REQUIRE(u.ok());
    CHECK(u->undoes == r.id);
    CHECK(u->sql == r.undo_sql);
    CHECK(u->id > recs[2].id);
  }
  CHECK(shop->CanLogin("cleaner"));
  CHECK(AclOf(*shop) == acl_before);

  absl::StatusOr<AuditRecord> twice = Undo(*agent, audit_path, recs[2].id, &clock);
  CHECK(absl::IsFailedPrecondition(twice.status()));
  CHECK(absl::StrContains(twice.status().message(), "already undone"));
  CHECK(absl::IsNotFound(Undo(*agent, audit_path, 999, &clock).status()));
  std::vector<AuditRecord> audit = AuditLines(audit_path);
  REQUIRE(audit.size() == 5);
  CHECK(audit[3].action == ActionKind::kUndo);
  CHECK(audit[4].undoes == recs[2].id);
}

}  // namespace
}  // namespace pgwarden
