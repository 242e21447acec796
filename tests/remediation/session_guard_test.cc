#include "remediation/session_guard.h"

#include "absl/strings/match.h"
#include "catch2/catch.hpp"
#include "cmd/privileges.h"
#include "core/clock.h"
#include "devtools/process.h"
#include "tests/remediation/test_util.h"

namespace pgwarden {
namespace {

using testing::AuditLines;
using testing::Shop;
using testing::WaitFor;

const std::vector<TableRef> kWatched = {{"public", "customers"}};

RemediationConfig Config(RemediationMode mode) {
  RemediationConfig c;
  c.mode = mode;
  c.protected_roles = {"postgres", "pgwarden"};
  c.cancel_grace = absl::Milliseconds(200);
  return c;
}

// FindUntil runs guard.Check every 100ms (at most `seconds`) until a finding
// of `kind` for `role` appears.
std::vector<SessionFinding> FindUntil(SessionGuard& guard, pg::Session& conn, FindingKind kind,
                                      const std::string& role, double seconds) {
  std::vector<SessionFinding> out;
  WaitFor(
      [&] {
        absl::StatusOr<std::vector<SessionFinding>> f = guard.Check(conn, "shop", kWatched);
        REQUIRE(f.ok());
        out.clear();
        for (SessionFinding& x : *f) {
          if (x.kind == kind && x.session.role == role) out.push_back(std::move(x));
        }
        return !out.empty();
      },
      seconds);
  return out;
}

// CheckTerminatedNothingLost: the guard terminated the backend of role
// "oops" holding `tx` open, so its transaction rolled back: the commit fails,
// the table still has `initial` rows and the session is gone.
void CheckTerminatedNothingLost(const SessionFinding& f, pqxx::work& tx, Shop& shop,
                                int64_t initial) {
  REQUIRE(f.actions.size() == 1);
  CHECK(f.actions[0].action == ActionKind::kTerminate);
  CHECK(f.actions[0].result == ActionResult::kDone);
  CHECK_THROWS(tx.commit());
  CHECK(shop.Count() == initial);
  CHECK(WaitFor([&] { return shop.SessionsOf("oops") == 0; }, 5));
}

TEST_CASE("a huge uncommitted DELETE is seen in flight and cancelled, no row is lost",
          "[integration][session_guard]") {
  const int64_t initial = 200000;
  auto shop = Shop::Start(initial);
  shop->AddRole("oops", "SELECT, DELETE");
  auto agent = shop->AgentConnection();
  const pid_t psql = shop->SpawnPsql("oops", "adhoc",
                                     "BEGIN; DELETE FROM customers; SELECT pg_sleep(30); COMMIT;");

  // Report only: the statement is seen while it runs, before it commits.
  SessionGuard reporter(Config(RemediationMode::kEnforce), nullptr, RealClock::Get());
  std::vector<SessionFinding> seen =
      FindUntil(reporter, *agent, FindingKind::kDestructiveInFlight, "oops", 20);
  REQUIRE(seen.size() == 1);
  CHECK(seen[0].statement == "DELETE without WHERE");
  CHECK(seen[0].table.table == "customers");
  CHECK(seen[0].session.application == "adhoc");
  CHECK(seen[0].actions.empty());
  CHECK(absl::StrContains(seen[0].Summary(), "DELETE without WHERE on public.customers"));

  const std::string audit_path = shop->tmp() + "/audit.log";
  auto rem = Remediator::Create(Config(RemediationMode::kEnforce), "pgwarden", audit_path, nullptr,
                                {}, RealClock::Get());
  REQUIRE(rem.ok());
  SessionGuard guard(Config(RemediationMode::kEnforce), rem->get(), RealClock::Get());
  std::vector<SessionFinding> acted =
      FindUntil(guard, *agent, FindingKind::kDestructiveInFlight, "oops", 10);
  REQUIRE(acted.size() == 1);
  REQUIRE(acted[0].actions.size() == 1);
  CHECK(acted[0].actions[0].action == ActionKind::kCancel);
  CHECK(acted[0].actions[0].result == ActionResult::kDone);

  absl::StatusOr<int> code = WaitProcess(psql, absl::Seconds(10));
  REQUIRE(code.ok());
  CHECK(*code != 0);
  CHECK(shop->Count() == initial);
  std::vector<AuditRecord> audit = AuditLines(audit_path);
  REQUIRE(audit.size() == 1);
  CHECK(audit[0].action == ActionKind::kCancel);
  CHECK(audit[0].result == ActionResult::kDone);
  CHECK(absl::StrContains(audit[0].sql, "pg_cancel_backend"));
}

TEST_CASE("an open transaction that deleted everything is terminated, rolling it back",
          "[integration][session_guard]") {
  const int64_t initial = 5000;
  auto shop = Shop::Start(initial);
  shop->AddRole("oops", "SELECT, DELETE");
  shop->AddRole("etl", "SELECT, UPDATE");
  auto agent = shop->AgentConnection();
  RemediationConfig config = Config(RemediationMode::kEnforce);
  config.inflight.allowed_roles = {"etl"};
  auto rem = Remediator::Create(config, "pgwarden", shop->tmp() + "/audit.log", nullptr, {},
                                RealClock::Get());
  REQUIRE(rem.ok());
  SessionGuard guard(config, rem->get(), RealClock::Get());

  // An allowed role is reported, never acted on.
  auto etl = shop->Connect("etl", "nightly");
  pqxx::work etl_tx(*etl);
  etl_tx.exec("UPDATE customers SET name = name");
  std::vector<SessionFinding> allowed =
      FindUntil(guard, *agent, FindingKind::kDestructiveInFlight, "etl", 5);
  REQUIRE(allowed.size() == 1);
  CHECK(allowed[0].allowed);
  CHECK(allowed[0].statement == "UPDATE without WHERE");
  CHECK(allowed[0].actions.empty());
  etl_tx.abort();

  auto oops = shop->Connect("oops", "console");
  pqxx::work tx(*oops);
  tx.exec("DELETE FROM customers");
  std::vector<SessionFinding> f =
      FindUntil(guard, *agent, FindingKind::kDestructiveInFlight, "oops", 5);
  REQUIRE(f.size() == 1);
  CHECK(f[0].session.state == "idle in transaction");
  CheckTerminatedNothingLost(f[0], tx, *shop, initial);
}

TEST_CASE("in-flight guard: dry-run simulates, a superuser is refused, both audited",
          "[integration][session_guard]") {
  auto shop = Shop::Start(1000);
  shop->Exec("CREATE ROLE dba LOGIN SUPERUSER PASSWORD 'pw'");
  shop->AddRole("oops", "SELECT, DELETE");
  auto agent = shop->AgentConnection();
  const std::string audit_path = shop->tmp() + "/audit.log";

  auto dba = shop->Connect("dba", "psql");
  pqxx::work dba_tx(*dba);
  dba_tx.exec("TRUNCATE customers");
  auto enforce = Remediator::Create(Config(RemediationMode::kEnforce), "pgwarden", audit_path,
                                    nullptr, {}, RealClock::Get());
  REQUIRE(enforce.ok());
  SessionGuard guard(Config(RemediationMode::kEnforce), enforce->get(), RealClock::Get());
  auto f = FindUntil(guard, *agent, FindingKind::kDestructiveInFlight, "dba", 5);
  REQUIRE(f.size() == 1);
  CHECK(f[0].statement == "TRUNCATE");
  REQUIRE(f[0].actions.size() == 1);
  CHECK(f[0].actions[0].result == ActionResult::kRefused);
  CHECK(f[0].actions[0].reason == "superuser");
  // Refused once, not on every tick.
  auto again = FindUntil(guard, *agent, FindingKind::kDestructiveInFlight, "dba", 5);
  REQUIRE(again.size() == 1);
  CHECK(again[0].actions.empty());
  dba_tx.abort();

  auto oops = shop->Connect("oops", "console");
  pqxx::work tx(*oops);
  tx.exec("DELETE FROM public.customers");
  RemediationConfig dry = Config(RemediationMode::kDryRun);
  auto dry_rem = Remediator::Create(dry, "pgwarden", audit_path, nullptr, {}, RealClock::Get());
  REQUIRE(dry_rem.ok());
  SessionGuard dry_guard(dry, dry_rem->get(), RealClock::Get());
  auto d = FindUntil(dry_guard, *agent, FindingKind::kDestructiveInFlight, "oops", 5);
  REQUIRE(d.size() == 1);
  REQUIRE(d[0].actions.size() == 1);
  CHECK(d[0].actions[0].result == ActionResult::kDryRun);
  CHECK(absl::StrContains(d[0].actions[0].sql, "pg_terminate_backend"));
  CHECK(shop->SessionsOf("oops") == 1);
  tx.abort();

  std::vector<AuditRecord> audit = AuditLines(audit_path);
  REQUIRE(audit.size() == 2);
  CHECK(audit[0].result == ActionResult::kRefused);
  CHECK(audit[0].reason == "superuser");
  CHECK(audit[1].result == ActionResult::kDryRun);
}

// EnforcingShop is a shop with role "oops" (SELECT, DELETE) and a session
// guard acting in enforce mode through a Remediator auditing to audit_path.
struct EnforcingShop {
  std::unique_ptr<Shop> shop;
  std::unique_ptr<pg::Session> agent;
  std::string audit_path;
  std::unique_ptr<Remediator> rem;
  std::unique_ptr<SessionGuard> guard;
  explicit EnforcingShop(int64_t rows) : shop(Shop::Start(rows)) {
    shop->AddRole("oops", "SELECT, DELETE");
    agent = shop->AgentConnection();
    audit_path = shop->tmp() + "/audit.log";
    auto r = Remediator::Create(Config(RemediationMode::kEnforce), "pgwarden", audit_path, nullptr,
                                {}, RealClock::Get());
    REQUIRE(r.ok());
    rem = std::move(*r);
    guard = std::make_unique<SessionGuard>(Config(RemediationMode::kEnforce), rem.get(),
                                           RealClock::Get());
  }
};

TEST_CASE("locks alone: an open transaction holding a write lock is reported, not acted on",
          "[integration][session_guard]") {
  EnforcingShop e(1000);
  auto& shop = e.shop;
  auto oops = shop->Connect("oops", "console");
  pqxx::work tx(*oops);
  tx.exec("DELETE FROM customers WHERE id <= 10");
  tx.exec("SELECT 1");  // the DELETE is no longer the visible statement
  auto f = FindUntil(*e.guard, *e.agent, FindingKind::kDestructiveInFlight, "oops", 8);
  REQUIRE(f.size() == 1);
  CHECK_FALSE(f[0].certain);
  CHECK(f[0].seconds >= kUncertainMinAgeSeconds);
  CHECK(f[0].table.table == "customers");
  // The 10 uncommitted deletes are measured: 1% of the table, not a mass write.
  CHECK(f[0].uncommitted_rows == 10);
  CHECK(f[0].table_rows == 1000);
  CHECK(absl::StrContains(f[0].statement, "uncommitted DELETE or UPDATE of 10 of 1000 rows"));
  CHECK(absl::StrContains(f[0].session.lock_modes, "public.customers=RowExclusiveLock"));
  CHECK(f[0].actions.empty());
  CHECK(shop->SessionsOf("oops") == 1);
  CHECK(AuditLines(e.audit_path).empty());
  tx.abort();
}

TEST_CASE("locks alone: an open transaction that deleted most of the table is terminated",
          "[integration][session_guard]") {
  const int64_t initial = 5000;
  EnforcingShop e(initial);
  auto& shop = e.shop;
  auto oops = shop->Connect("oops", "console");
  pqxx::work tx(*oops);
  tx.exec("DELETE FROM customers WHERE id <= 4000");  // has a WHERE, removes 80%
  tx.exec("SELECT 1");
  auto f = FindUntil(*e.guard, *e.agent, FindingKind::kDestructiveInFlight, "oops", 8);
  REQUIRE(f.size() == 1);
  CHECK(f[0].certain);
  CHECK(f[0].uncommitted_rows == 4000);
  CHECK(f[0].table_rows == initial);
  CheckTerminatedNothingLost(f[0], tx, *shop, initial);
}

TEST_CASE("locks alone: on a big table the uncommitted share is sampled, and acted on",
          "[integration][session_guard]") {
  const int64_t initial = 600000;  // above kExactCountRows: sampled
  EnforcingShop e(initial);
  auto& shop = e.shop;
  auto oops = shop->Connect("oops", "console");
  pqxx::work tx(*oops);
  tx.exec("DELETE FROM customers WHERE id <= 450000");  // 75 % of the table
  tx.exec("SELECT 1");
  auto f = FindUntil(*e.guard, *e.agent, FindingKind::kDestructiveInFlight, "oops", 10);
  REQUIRE(f.size() == 1);
  INFO(f[0].statement);
  CHECK(f[0].certain);
  CHECK(absl::StrContains(f[0].statement, "of ~"));
  // An estimate from about 200,000 sampled rows: within 10 % of the truth.
  CHECK(f[0].uncommitted_rows == Approx(450000).epsilon(0.1));
  CHECK(f[0].table_rows == Approx(initial).epsilon(0.1));
  REQUIRE(f[0].actions.size() == 1);
  CHECK(f[0].actions[0].result == ActionResult::kDone);
  CHECK_THROWS(tx.commit());
  CHECK(shop->Count() == initial);
}

TEST_CASE("runaway sessions: idle in transaction, long statement, blocking",
          "[integration][session_guard]") {
  auto shop = Shop::Start(100);
  shop->AddRole("slow", "SELECT, UPDATE");
  auto agent = shop->AgentConnection();
  RemediationConfig config = Config(RemediationMode::kEnforce);
  config.inflight.enabled = false;
  config.runaway.enabled = true;
  config.runaway.idle_in_transaction = absl::Seconds(1);
  config.runaway.statement = absl::Seconds(1);
  config.runaway.blocking = absl::Seconds(1);
  auto rem = Remediator::Create(config, "pgwarden", shop->tmp() + "/audit.log", nullptr, {},
                                RealClock::Get());
  REQUIRE(rem.ok());

  SECTION("idle in transaction") {
    SessionGuard guard(config, rem->get(), RealClock::Get());
    auto slow = shop->Connect("slow", "forgotten");
    pqxx::work tx(*slow);
    tx.exec("SELECT 1");
    // Not yet beyond the limit.
    absl::StatusOr<std::vector<SessionFinding>> early = guard.Check(*agent, "shop", kWatched);
    REQUIRE(early.ok());
    CHECK(early->empty());
    auto f = FindUntil(guard, *agent, FindingKind::kIdleInTransaction, "slow", 5);
    REQUIRE(f.size() == 1);
    CHECK(f[0].seconds > 1.0);
    REQUIRE(f[0].actions.size() == 1);
    CHECK(f[0].actions[0].action == ActionKind::kTerminate);
    CHECK(f[0].actions[0].result == ActionResult::kDone);
    CHECK(WaitFor([&] { return shop->SessionsOf("slow") == 0; }, 5));
  }
  SECTION("long statement: cancelled") {
    SessionGuard guard(config, rem->get(), RealClock::Get());
    const pid_t psql = shop->SpawnPsql("slow", "report", "SELECT pg_sleep(30)");
    auto f = FindUntil(guard, *agent, FindingKind::kLongStatement, "slow", 10);
    REQUIRE(f.size() == 1);
    REQUIRE(f[0].actions.size() == 1);
    CHECK(f[0].actions[0].action == ActionKind::kCancel);
    CHECK(f[0].actions[0].result == ActionResult::kDone);
    absl::StatusOr<int> code = WaitProcess(psql, absl::Seconds(10));
    REQUIRE(code.ok());
    CHECK(*code != 0);
  }
  SECTION("blocking others: the blocker goes, the waiter proceeds") {
    config.runaway.idle_in_transaction = absl::Minutes(5);
    config.runaway.statement = absl::Minutes(5);
    SessionGuard guard(config, rem->get(), RealClock::Get());
    auto holder = shop->Connect("slow", "holder");
    pqxx::work tx(*holder);
    tx.exec("UPDATE customers SET name = 'held' WHERE id = 1");
    const pid_t waiter =
        shop->SpawnPsql("slow", "waiter", "UPDATE customers SET name = 'waited' WHERE id = 1");
    auto f = FindUntil(guard, *agent, FindingKind::kBlocking, "slow", 10);
    REQUIRE(f.size() == 1);
    CHECK(f[0].session.pid == holder->backendpid());
    REQUIRE(f[0].blocked_pids.size() == 1);
    REQUIRE(f[0].actions.size() == 1);
    CHECK(f[0].actions[0].action == ActionKind::kTerminate);
    CHECK(f[0].actions[0].result == ActionResult::kDone);
    absl::StatusOr<int> code = WaitProcess(waiter, absl::Seconds(10));
    REQUIRE(code.ok());
    CHECK(*code == 0);
    CHECK(shop->Scalar("SELECT name FROM customers WHERE id = 1") == "waited");
  }
}

TEST_CASE("CheckPrivileges lists what a least-privilege role lacks, then nothing",
          "[integration][privileges]") {
  auto shop = Shop::Start(10, /*agent_privileges=*/false);
  auto agent = shop->AgentConnection();
  RemediationConfig config = Config(RemediationMode::kEnforce);
  absl::StatusOr<std::vector<MissingPrivilege>> missing = CheckPrivileges(*agent, config);
  REQUIRE(missing.ok());
  std::vector<std::string> names;
  for (const MissingPrivilege& m : *missing) {
    names.push_back(m.privilege);
    CHECK(m.required);
  }
  CHECK(names == std::vector<std::string>{"pg_read_all_stats", "CREATEROLE", "pg_signal_backend",
                                          "member of app_owner"});
  CHECK((*missing)[3].grant_sql == "GRANT \"app_owner\" TO \"pgwarden\"");

  // Only what the configured actions need.
  RemediationConfig narrow = config;
  narrow.actions = {ActionKind::kNologin};
  narrow.inflight.enabled = false;
  missing = CheckPrivileges(*agent, narrow);
  REQUIRE(missing.ok());
  REQUIRE(missing->size() == 2);
  CHECK((*missing)[1].privilege == "CREATEROLE");

  // Run the grant statements CheckPrivileges printed: nothing is missing.
  missing = CheckPrivileges(*agent, config);
  REQUIRE(missing.ok());
  for (const MissingPrivilege& m : *missing) shop->Exec(m.grant_sql);
  missing = CheckPrivileges(*agent, config, kWatched);
  REQUIRE(missing.ok());
  CHECK(missing->empty());

  shop->Exec("DROP EXTENSION pg_stat_statements");
  missing = CheckPrivileges(*agent, config);
  REQUIRE(missing.ok());
  REQUIRE(missing->size() == 1);
  CHECK(missing->at(0).privilege == "pg_stat_statements");
  CHECK_FALSE(missing->at(0).required);
}

}  // namespace
}  // namespace pgwarden
