// The nologin action: ALTER ROLE ... NOLOGIN, undone by LOGIN.

#include "absl/strings/str_cat.h"
#include "remediation/action.h"

namespace pgwarden {
namespace {

class NologinAction : public Action {
 public:
  ActionKind kind() const override { return ActionKind::kNologin; }

  ActionPlan Plan(const pg::Session& quoter, const std::string& role,
                  const TableRef& /*table*/) const override {
    ActionPlan plan;
    plan.action = kind();
    plan.role = role;
    plan.sql = absl::StrCat("ALTER ROLE ", quoter.QuoteName(role), " NOLOGIN");
    plan.undo_sql = absl::StrCat("ALTER ROLE ", quoter.QuoteName(role), " LOGIN");
    return plan;
  }

  absl::Status Inspect(pg::Session& conn, ActionPlan* plan) const override {
    absl::StatusOr<pg::Result> r =
        conn.Query("SELECT rolcanlogin FROM pg_roles WHERE rolname = $1", {plan->role});
    if (!r.ok()) return r.status();
    if (r->empty()) return absl::NotFoundError("role does not exist");
    if (!(*r)[0].Bool(0)) {
      plan->nothing_to_do = true;
      plan->note = "role already has NOLOGIN; nothing to run";
      plan->sql.clear();
      plan->undo_sql.clear();
    }
    return absl::OkStatus();
  }

  ActionRecord Run(pg::Session& conn, const ActionPlan& plan,
                   const ActionContext& context) const override {
    absl::StatusOr<pg::Result> r = conn.Execute(plan.sql, context.config->statement_timeout);
    if (!r.ok()) return plan.Record(ActionResult::kFailed, std::string(r.status().message()));
    return plan.Record(ActionResult::kDone, "");
  }
};

}  // namespace

std::unique_ptr<Action> MakeNologinAction() { return std::make_unique<NologinAction>(); }

}  // namespace pgwarden
