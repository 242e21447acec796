// The revoke_writes action: REVOKE INSERT, UPDATE, DELETE, TRUNCATE on one
// affected table; undone by granting back exactly what the REVOKE removed.

#include <algorithm>
#include <iterator>

#include "absl/strings/str_cat.h"
#include "remediation/action.h"
#include "remediation/grants.h"

namespace pgwarden {
namespace {

constexpr char kWritePrivileges[] = "INSERT, UPDATE, DELETE, TRUNCATE";

class RevokeWritesAction : public Action {
 public:
  ActionKind kind() const override { return ActionKind::kRevokeWrites; }
  bool per_table() const override { return true; }

  ActionPlan Plan(const pg::Session& quoter, const std::string& role,
                  const TableRef& table) const override {
    ActionPlan plan;
    plan.action = kind();
    plan.role = role;
    plan.table = table;
    plan.sql = absl::StrCat("REVOKE ", kWritePrivileges, " ON TABLE ",
                            quoter.QualifiedName(table.schema, table.table), " FROM ",
                            quoter.QuoteName(role));
    return plan;
  }

  // Inspect reads the role's grants; the undo is the prediction that a
  // REVOKE run as the owner removes the owner's write grants (Run replaces it
  // with what the REVOKE did remove).
  absl::Status Inspect(pg::Session& conn, ActionPlan* plan) const override {
    absl::StatusOr<std::vector<TableGrant>> before = ReadTableGrants(conn, plan->role, plan->table);
    if (!before.ok()) return before.status();
    plan->details["grants_before"] = GrantsJson(*before);
    absl::StatusOr<std::string> owner = TableOwner(conn, plan->table);
    std::vector<TableGrant> predicted;
    for (const TableGrant& g : *before) {
      if (IsWritePrivilege(g.privilege) && owner.ok() && g.grantor == *owner) {
        predicted.push_back(g);
      }
    }
    plan->undo_sql = GrantSql(conn, predicted, plan->table, plan->role);
    return absl::OkStatus();
  }

  ActionRecord Run(pg::Session& conn, const ActionPlan& plan,
                   const ActionContext& context) const override {
    ActionRecord rec = plan.Record(ActionResult::kDone, "");
    rec.undo_sql.clear();
    const std::vector<TableGrant> before = GrantsFromJson(plan.details["grants_before"]);
    if (absl::StatusOr<pg::Result> r = conn.Execute(plan.sql, context.config->statement_timeout);
        !r.ok()) {
      return Fail(std::move(rec), r.status().message());
    }
    absl::StatusOr<std::vector<TableGrant>> after = ReadTableGrants(conn, plan.role, plan.table);
    if (!after.ok()) {
      return Fail(std::move(rec),
                  absl::StrCat("revoked, but cannot read grants back (undo unknown): ",
                               after.status().message()));
    }
    rec.details["grants_after"] = GrantsJson(*after);
    std::vector<TableGrant> removed;
    std::set_difference(before.begin(), before.end(), after->begin(), after->end(),
                        std::back_inserter(removed));
    rec.details["grants_removed"] = GrantsJson(removed);
    rec.undo_sql = GrantSql(conn, removed, plan.table, plan.role);
    absl::StatusOr<pg::Result> can = conn.Query(
        "SELECT has_table_privilege($1::text::name, c.oid, 'DELETE'), "
        "       has_table_privilege($1::text::name, c.oid, 'TRUNCATE') "
        "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = $2 AND c.relname = $3",
        {plan.role, plan.table.schema, plan.table.table});
    if (!can.ok()) {
      rec.reason = absl::StrCat("privilege check after revoke failed: ", can.status().message());
    } else if (!can->empty() && ((*can)[0].Bool(0) || (*can)[0].Bool(1))) {
      rec.details["still_can_delete"] = true;
      rec.reason =
          "role can still DELETE or TRUNCATE through PUBLIC, a group role or another grantor";
    }
    return rec;
  }

 private:
  static ActionRecord Fail(ActionRecord rec, absl::string_view reason) {
    rec.result = ActionResult::kFailed;
    rec.reason = std::string(reason);
    return rec;
  }
};

}  // namespace

std::unique_ptr<Action> MakeRevokeWritesAction() { return std::make_unique<RevokeWritesAction>(); }

}  // namespace pgwarden
