// The Remediator's decisions against a FakeSession: guards, dry-run,
// enforce, idempotency, audit and the degraded counter, without a database.

#include <stdlib.h>

#include <cerrno>
#include <filesystem>
#include <map>
#include <string>

#include "absl/strings/match.h"
#include "catch2/catch.hpp"
#include "core/durable_file.h"
#include "pg/fake_session.h"
#include "remediation/remediator.h"
#include "tests/support/counting_degraded.h"
#include "tests/support/failing_fsync.h"

namespace pgwarden {
namespace {

using pg::FakeSession;

struct Fixture {
  Fixture() {
    char tmpl[] = "/tmp/pgwarden-remfake-XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    dir = tmpl;
    config.mode = RemediationMode::kEnforce;
    config.actions = {ActionKind::kNologin};
    session.On("pg_try_advisory_lock", FakeSession::Rows({{"t"}}));
    session.On("session_user", FakeSession::Rows({{"pgwarden", "pgwarden", "f"}}));
    session.On("pg_get_userbyid", FakeSession::Rows({{"app_owner"}}));
    session.On("rolcanlogin", FakeSession::Rows({{"t"}}));
  }
  ~Fixture() { std::filesystem::remove_all(dir); }

  std::unique_ptr<Remediator> Make() {
    auto r =
        Remediator::Create(config, "pgwarden", dir + "/audit.log", nullptr, {}, &clock, &degraded);
    REQUIRE(r.ok());
    return *std::move(r);
  }

  static RemediationRequest Request(const std::string& role, double confidence = 1,
                                    int64_t rows = 5000) {
    RemediationRequest req;
    req.incident_id = "1";
    req.target = "shop";
    req.tables = {TableRef{"public", "customers"}};
    Culprit c;
    c.role = role;
    c.confidence = confidence;
    c.rows_attributed = rows;
    req.attribution.culprits = {c};
    req.rows_dropped = rows;
    return req;
  }

  std::string dir;
  RemediationConfig config;
  FakeClock clock;
  FakeSession session;
  testing::CountingDegraded degraded;
};

TEST_CASE("enforce runs nologin once per incident and audits it", "[remediation][fake]") {
  Fixture f;
  auto rem = f.Make();
  std::vector<ActionRecord> recs = rem->Act(f.session, Fixture::Request("cleanup_job"));
  REQUIRE(recs.size() == 1);
  CHECK(recs[0].result == ActionResult::kDone);
  CHECK(recs[0].id == 1);
  CHECK(f.session.Executed() == std::vector<std::string>{"ALTER ROLE \"cleanup_job\" NOLOGIN"});
  CHECK(recs[0].details["rows_dropped"] == 5000);
  // Called again on the next tick: nothing new runs or is audited.
  CHECK(rem->Act(f.session, Fixture::Request("cleanup_job")).empty());
  CHECK(f.session.Executed().size() == 1);
  CHECK(rem->Status()["recent"].size() == 1);
  CHECK(rem->Status()["leader"] == true);
}

TEST_CASE("dry-run reports the exact SQL and runs nothing", "[remediation][fake]") {
  Fixture f;
  f.config.mode = RemediationMode::kDryRun;
  f.config.actions = {ActionKind::kNologin, ActionKind::kRevokeWrites};
  auto rem = f.Make();
  std::vector<ActionRecord> recs = rem->Act(f.session, Fixture::Request("cleanup_job"));
  REQUIRE(recs.size() == 2);
  CHECK(recs[0].result == ActionResult::kDryRun);
  CHECK(recs[0].reason == "dry-run: not executed");
  CHECK(recs[0].sql == "ALTER ROLE \"cleanup_job\" NOLOGIN");
  CHECK(recs[1].action == ActionKind::kRevokeWrites);
  CHECK(recs[1].table == "customers");
  CHECK(f.session.Executed().empty());
}

TEST_CASE("guards refuse before anything runs, each reason audited", "[remediation][fake]") {
  struct Case {
    const char* name;
    std::function<void(Fixture&)> setup;
    std::string role;
    double confidence;
    ActionResult want;
    const char* reason_part;
  };
  const std::vector<Case> cases = {
      {"not the leader",
       [](Fixture& f) { f.session.On("pg_try_advisory_lock", FakeSession::Rows({{"f"}})); },
       "cleanup_job", 1, ActionResult::kRefused,
       "another agent holds the remediation advisory lock"},
      {"leader unknown",
       [](Fixture& f) {
         f.session.On("pg_try_advisory_lock", absl::UnavailableError("connection lost: x"));
       },
       "cleanup_job", 1, ActionResult::kFailed, "pg_try_advisory_lock: connection lost"},
      {"superuser",
       [](Fixture& f) {
         f.session.On("session_user", FakeSession::Rows({{"pgwarden", "pgwarden", "t"}}));
       },
       "cleanup_job", 1, ActionResult::kRefused, "superuser"},
      {"protected", [](Fixture&) {}, "postgres", 1, ActionResult::kRefused, "protected role"},
      {"own role", [](Fixture&) {}, "pgwarden", 1, ActionResult::kRefused, "the agent's own role"},
      {"owner", [](Fixture&) {}, "app_owner", 1, ActionResult::kRefused,
       "owner of the affected table public.customers"},
      {"confidence", [](Fixture&) {}, "cleanup_job", 0.2, ActionResult::kRefused,
       "attribution confidence 0.20 is below min_confidence 0.50"},
      {"mode off", [](Fixture& f) { f.config.mode = RemediationMode::kOff; }, "cleanup_job", 1,
       ActionResult::kRefused, ""},
  };
  for (const Case& c : cases) {
    INFO(c.name);
    Fixture f;
    c.setup(f);
    auto rem = f.Make();
    std::vector<ActionRecord> recs = rem->Act(f.session, Fixture::Request(c.role, c.confidence));
    CHECK(f.session.Executed().empty());
    if (f.config.mode == RemediationMode::kOff) {
      CHECK(recs.empty());
      continue;
    }
    REQUIRE(recs.size() == 1);
    CHECK(recs[0].result == c.want);
    CHECK(absl::StrContains(recs[0].reason, c.reason_part));
    absl::StatusOr<AuditRecord> audited = AuditLog::Find(f.dir + "/audit.log", recs[0].id);
    REQUIRE(audited.ok());
    CHECK(audited->reason == recs[0].reason);
  }
}

TEST_CASE("a session action is refused when remediation is off", "[remediation][fake]") {
  Fixture f;
  f.config.mode = RemediationMode::kOff;
  auto rem = f.Make();
  SessionActionRequest req;
  req.incident_id = "shop/destructive_in_flight/7";
  req.target = "shop";
  req.pid = 7;
  req.role = "oops";
  req.backend_start = "2026-12-01 10:00:00+00";
  ActionRecord r = rem->ActOnSession(f.session, req);
  CHECK(r.result == ActionResult::kRefused);
  CHECK(r.reason == "remediation mode is off");
  CHECK(r.sql ==
        "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE pid = 7 AND usename = 'oops' "
        "AND backend_start = '2026-12-01 10:00:00+00'::timestamptz");
  CHECK(f.session.Executed().empty());
}

TEST_CASE("a failed audit write is named in the record and counted as degraded",
          "[remediation][fake]") {
  Fixture f;
  auto rem = f.Make();
  std::vector<ActionRecord> recs;
  {
    testing::FailingFsync fail;
    recs = rem->Act(f.session, Fixture::Request("cleanup_job"));
  }
  REQUIRE(recs.size() == 1);
  CHECK(recs[0].id == 0);
  CHECK(absl::StrContains(recs[0].reason, "AUDIT WRITE FAILED"));
  CHECK(f.degraded.Get("shop", kDegradedAudit) == 1);
}

}  // namespace
}  // namespace pgwarden
