// Undo of each action kind, and the audit file under a failing fsync,
// without a database.

#include "remediation/undo.h"

#include <stdlib.h>

#include <cerrno>
#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "catch2/catch.hpp"
#include "core/durable_file.h"
#include "pg/fake_session.h"
#include "tests/support/failing_fsync.h"

namespace pgwarden {
namespace {

AuditRecord Done(int64_t id, ActionKind action, std::string sql, std::string undo_sql) {
  AuditRecord r;
  r.id = id;
  r.time = absl::FromUnixSeconds(1700000000);
  r.incident = "7";
  r.target = "shop";
  r.mode = RemediationMode::kEnforce;
  r.action = action;
  r.role = "cleanup_job";
  r.result = ActionResult::kDone;
  r.sql = std::move(sql);
  r.undo_sql = std::move(undo_sql);
  return r;
}

std::string TempDir() {
  char tmpl[] = "/tmp/pgwarden-undo-XXXXXX";
  REQUIRE(::mkdtemp(tmpl) != nullptr);
  return tmpl;
}

TEST_CASE("UndoPlan reverses nologin and revoke_writes, refuses what cannot be undone",
          "[remediation][undo]") {
  const absl::Time now = absl::FromUnixSeconds(1700000100);
  std::vector<AuditRecord> all = {
      Done(1, ActionKind::kNologin, "ALTER ROLE \"cleanup_job\" NOLOGIN",
           "ALTER ROLE \"cleanup_job\" LOGIN"),
      Done(2, ActionKind::kRevokeWrites, "REVOKE ...",
           "GRANT DELETE ON TABLE \"public\".\"t\" TO "
           "\"cleanup_job\""),
      Done(3, ActionKind::kTerminate, "SELECT ... pg_terminate_backend ...", ""),
      Done(4, ActionKind::kCancel, "SELECT pg_cancel_backend(pid) ...", ""),
      Done(5, ActionKind::kNologin, "ALTER ROLE \"other\" NOLOGIN", "ALTER ROLE \"other\" LOGIN"),
      Done(6, ActionKind::kUndo, "ALTER ROLE \"other\" LOGIN", "ALTER ROLE \"other\" NOLOGIN"),
  };
  all[4].role = "other";
  all[5].undoes = 5;
  AuditRecord dry =
      Done(7, ActionKind::kNologin, "ALTER ROLE \"r\" NOLOGIN", "ALTER ROLE \"r\" LOGIN");
  dry.result = ActionResult::kDryRun;
  all.push_back(dry);

  absl::StatusOr<AuditRecord> u1 = UndoPlan(all, 1, "audit.log", now);
  REQUIRE(u1.ok());
  CHECK(u1->action == ActionKind::kUndo);
  CHECK(u1->sql == "ALTER ROLE \"cleanup_job\" LOGIN");
  CHECK(u1->undo_sql == "ALTER ROLE \"cleanup_job\" NOLOGIN");
  CHECK(u1->undoes == 1);
  CHECK(u1->time == now);
  CHECK(u1->target == "shop");

  absl::StatusOr<AuditRecord> u2 = UndoPlan(all, 2, "audit.log", now);
  REQUIRE(u2.ok());
  CHECK(u2->sql == "GRANT DELETE ON TABLE \"public\".\"t\" TO \"cleanup_job\"");

  const absl::Status t = UndoPlan(all, 3, "audit.log", now).status();
  CHECK(absl::IsFailedPrecondition(t));
  CHECK(t.message() ==
        "action 3 (terminate) cannot be undone: terminated sessions and cancelled statements "
        "cannot be restored");
  CHECK(absl::StrContains(UndoPlan(all, 4, "audit.log", now).status().message(),
                          "(cancel) cannot be undone"));
  CHECK(UndoPlan(all, 5, "audit.log", now).status().message() ==
        "action 5 was already undone by action 6");
  CHECK(UndoPlan(all, 6, "audit.log", now).status().message() == "action 6 is itself an undo");
  CHECK(UndoPlan(all, 7, "audit.log", now).status().message() ==
        "action 7 was not done (result dry_run): nothing to undo");
  CHECK(absl::IsNotFound(UndoPlan(all, 99, "audit.log", now).status()));
}

TEST_CASE("Undo runs the exact undo SQL in a transaction and audits it", "[remediation][undo]") {
  const std::string dir = TempDir();
  const std::string path = dir + "/audit.log";
  {
    absl::StatusOr<std::shared_ptr<AuditLog>> log = AuditLog::Open(path);
    REQUIRE(log.ok());
    AuditRecord r =
        Done(0, ActionKind::kNologin, "ALTER ROLE \"a\" NOLOGIN", "ALTER ROLE \"a\" LOGIN");
    REQUIRE((*log)->Append(&r).ok());
    CHECK(r.id == 1);
  }
  FakeClock clock;
  pg::FakeSession s;
  absl::StatusOr<AuditRecord> u = Undo(s, path, 1, &clock);
  REQUIRE(u.ok());
  CHECK(s.Executed() == std::vector<std::string>{"ALTER ROLE \"a\" LOGIN"});
  CHECK(u->id == 2);
  absl::StatusOr<AuditRecord> back = AuditLog::Find(path, 2);
  REQUIRE(back.ok());
  CHECK(back->action == ActionKind::kUndo);
  CHECK(back->result == ActionResult::kDone);
  CHECK(back->undoes == 1);
  // Once undone, never twice.
  CHECK(absl::IsFailedPrecondition(Undo(s, path, 1, &clock).status()));

  // A failing undo statement is audited as failed and reported.
  {
    absl::StatusOr<std::shared_ptr<AuditLog>> log = AuditLog::Open(path);
    AuditRecord r =
        Done(0, ActionKind::kNologin, "ALTER ROLE \"b\" NOLOGIN", "ALTER ROLE \"b\" LOGIN");
    REQUIRE((*log)->Append(&r).ok());
  }
  pg::FakeSession failing;
  failing.On("ALTER ROLE", absl::PermissionDeniedError("permission denied"));
  absl::Status st = Undo(failing, path, 3, &clock).status();
  CHECK(absl::IsFailedPrecondition(st));
  CHECK(st.message() == "undo of action 3 failed: permission denied");
  absl::StatusOr<AuditRecord> failed = AuditLog::Find(path, 4);
  REQUIRE(failed.ok());
  CHECK(failed->result == ActionResult::kFailed);
  std::filesystem::remove_all(dir);
}

TEST_CASE("an audit append whose fsync fails reports the failure", "[remediation][audit]") {
  const std::string dir = TempDir();
  const std::string path = dir + "/audit.log";
  absl::StatusOr<std::shared_ptr<AuditLog>> log = AuditLog::Open(path);
  REQUIRE(log.ok());
  absl::Status s;
  {
    testing::FailingFsync fail;
    AuditRecord r = Done(0, ActionKind::kNologin, "x", "y");
    s = (*log)->Append(&r);
  }
  CHECK_FALSE(s.ok());
  CHECK(absl::StrContains(s.message(), path));
  // The next append (fsync working again) succeeds.
  AuditRecord r2 = Done(0, ActionKind::kNologin, "x", "y");
  CHECK((*log)->Append(&r2).ok());
  std::filesystem::remove_all(dir);
}

TEST_CASE("an audit line with an unknown action is an error naming the field and line",
          "[remediation][audit]") {
  nlohmann::json j = Done(1, ActionKind::kNologin, "a", "b").ToJson();
  CHECK(j["action"] == "nologin");
  CHECK(j["mode"] == "enforce");
  CHECK(j["result"] == "done");
  absl::StatusOr<AuditRecord> back = AuditRecord::FromJson(j);
  REQUIRE(back.ok());
  CHECK(back->action == ActionKind::kNologin);
  j["action"] = "drop_database";
  CHECK(AuditRecord::FromJson(j).status().message() == "unknown action \"drop_database\"");
  j["action"] = "nologin";
  j["result"] = "maybe";
  CHECK(AuditRecord::FromJson(j).status().message() == "unknown result \"maybe\"");
}

}  // namespace
}  // namespace pgwarden
