// The terminate action: cancel the role's running statements, give them
// cancel_grace to stop, then terminate its sessions. Cannot be undone.

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "remediation/action.h"

namespace pgwarden {
namespace {

constexpr int kTerminateWaitMs = 2000;

struct Statements {
  std::string who;
  std::string cancel;
  std::string terminate;
};

Statements For(const pg::Session& conn, const std::string& role) {
  Statements s;
  s.who = absl::StrCat("usename = ", conn.Quote(role), " AND pid <> pg_backend_pid()");
  s.cancel = absl::StrCat("SELECT pid, pg_cancel_backend(pid) FROM pg_stat_activity WHERE ", s.who,
                          " AND state = 'active'");
  s.terminate = absl::StrCat("SELECT pid, pg_terminate_backend(pid, ", kTerminateWaitMs,
                             ") FROM pg_stat_activity WHERE ", s.who);
  return s;
}

class TerminateAction : public Action {
 public:
  ActionKind kind() const override { return ActionKind::kTerminate; }

  ActionPlan Plan(const pg::Session& quoter, const std::string& role,
                  const TableRef& /*table*/) const override {
    const Statements s = For(quoter, role);
    ActionPlan plan;
    plan.action = kind();
    plan.role = role;
    plan.sql = absl::StrCat(s.cancel, "; ", s.terminate);
    plan.undo_sql = "";  // a terminated session cannot be brought back
    return plan;
  }

  absl::Status Inspect(pg::Session& conn, ActionPlan* plan) const override {
    absl::StatusOr<pg::Result> r = conn.Query(absl::StrCat(
        "SELECT pid FROM pg_stat_activity WHERE ", For(conn, plan->role).who, " ORDER BY pid"));
    if (!r.ok()) return r.status();
    std::vector<int> pids;
    for (const pg::Row& row : *r) pids.push_back(static_cast<int>(row.Int(0)));
    plan->details["pids"] = pids;
    return absl::OkStatus();
  }

  ActionRecord Run(pg::Session& conn, const ActionPlan& plan,
                   const ActionContext& context) const override {
    const Statements s = For(conn, plan.role);
    std::vector<int> cancelled, terminated;
    absl::StatusOr<pg::Result> c = conn.Query(s.cancel);
    if (!c.ok()) return Failed(plan, c.status());
    for (const pg::Row& row : *c) {
      if (row.Bool(1)) cancelled.push_back(static_cast<int>(row.Int(0)));
    }
    if (!cancelled.empty()) {
      if (absl::Status w = WaitCancelled(conn, s, context); !w.ok()) return Failed(plan, w);
    }
    std::vector<int> survived;
    absl::StatusOr<pg::Result> t = conn.Execute(
        s.terminate, context.config->statement_timeout + absl::Milliseconds(kTerminateWaitMs));
    if (!t.ok()) return Failed(plan, t.status());
    for (const pg::Row& row : *t) {
      (row.Bool(1) ? terminated : survived).push_back(static_cast<int>(row.Int(0)));
    }
    std::vector<int> ended;
    if (absl::Status w = Settle(conn, context, &survived, &ended); !w.ok()) return Failed(plan, w);
    ActionRecord rec = plan.Record(ActionResult::kDone, "");
    rec.details["cancelled"] = cancelled;
    rec.details["terminated"] = terminated;
    if (!ended.empty()) rec.details["ended"] = ended;
    if (!survived.empty()) {
      rec.details["survived"] = survived;
      rec.result = ActionResult::kFailed;
      rec.reason = absl::StrCat("backends still alive after ", kTerminateWaitMs,
                                "ms: ", absl::StrJoin(survived, ","));
      return rec;
    }
    if (terminated.empty()) {
      rec.reason = cancelled.empty() && ended.empty()
                       ? "no sessions to terminate"
                       : "statements cancelled; the sessions then ended by themselves";
    }
    return rec;
  }

 private:
  static ActionRecord Failed(const ActionPlan& plan, const absl::Status& s) {
    return plan.Record(ActionResult::kFailed, std::string(s.message()));
  }

  // WaitCancelled gives cancelled statements cancel_grace to stop before
  // the backends go.
  static absl::Status WaitCancelled(pg::Session& conn, const Statements& s,
                                    const ActionContext& context) {
    const absl::Time deadline = context.clock->Now() + context.config->cancel_grace;
    while (context.clock->Now() < deadline) {
      absl::StatusOr<pg::Result> r = conn.Query(absl::StrCat(
          "SELECT count(*) FROM pg_stat_activity WHERE ", s.who, " AND state = 'active'"));
      if (!r.ok()) return r.status();
      if (r->empty() || (*r)[0].Int(0) == 0) break;
      context.clock->SleepFor(absl::Milliseconds(50));
    }
    return absl::OkStatus();
  }

  // Settle: pg_terminate_backend is also false for a backend that exited
  // between the pg_stat_activity read and the signal (e.g. its client quit on
  // the cancel): only a backend still listed a moment later survived.
  static absl::Status Settle(pg::Session& conn, const ActionContext& context,
                             std::vector<int>* survived, std::vector<int>* ended) {
    const absl::Time settle = context.clock->Now() + absl::Milliseconds(500);
    while (!survived->empty()) {
      absl::StatusOr<pg::Result> r =
          conn.Query("SELECT pid FROM pg_stat_activity WHERE pid = ANY($1::int[])",
                     {absl::StrCat("{", absl::StrJoin(*survived, ","), "}")});
      if (!r.ok()) return r.status();
      std::vector<int> still;
      for (const pg::Row& row : *r) still.push_back(static_cast<int>(row.Int(0)));
      for (int pid : *survived) {
        if (std::find(still.begin(), still.end(), pid) == still.end()) ended->push_back(pid);
      }
      *survived = std::move(still);
      if (survived->empty() || context.clock->Now() >= settle) break;
      context.clock->SleepFor(absl::Milliseconds(50));
    }
    return absl::OkStatus();
  }
};

}  // namespace

std::unique_ptr<Action> MakeTerminateAction() { return std::make_unique<TerminateAction>(); }

}  // namespace pgwarden
