#include "remediation/action.h"

namespace pgwarden {

nlohmann::json ActionRecord::ToJson() const {
  nlohmann::json j = {{"id", id},
                      {"action", ActionKindName(action)},
                      {"role", role},
                      {"result", ActionResultName(result)},
                      {"reason", reason},
                      {"sql", sql},
                      {"undo_sql", undo_sql}};
  if (!table.empty()) {
    j["schema"] = schema;
    j["table"] = table;
  }
  if (!details.empty()) j["details"] = details;
  return j;
}

ActionRecord ActionPlan::Record(ActionResult result, std::string reason) const {
  ActionRecord rec;
  rec.action = action;
  rec.role = role;
  rec.schema = table.schema;
  rec.table = table.table;
  rec.result = result;
  rec.reason = std::move(reason);
  rec.sql = sql;
  rec.undo_sql = undo_sql;
  rec.details = details;
  return rec;
}

const std::vector<ActionSpec>& IncidentActions() {
  static const std::vector<ActionSpec>* table = new std::vector<ActionSpec>{
      {ActionKind::kNologin, MakeNologinAction},
      {ActionKind::kTerminate, MakeTerminateAction},
      {ActionKind::kRevokeWrites, MakeRevokeWritesAction},
  };
  return *table;
}

std::unique_ptr<Action> MakeAction(ActionKind kind) {
  for (const ActionSpec& spec : IncidentActions()) {
    if (spec.kind == kind) return spec.make();
  }
  return nullptr;
}

}  // namespace pgwarden
