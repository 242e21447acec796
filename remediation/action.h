#ifndef PGWARDEN_REMEDIATION_ACTION_H_
#define PGWARDEN_REMEDIATION_ACTION_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/clock.h"
#include "nlohmann/json.hpp"
#include "pg/session.h"
#include "remediation/audit.h"
#include "remediation/config.h"
#include "signals/table_ref.h"

namespace pgwarden {

// ActionRecord is the outcome of one action considered; the same content is
// appended to the audit file under `id`.
struct ActionRecord {
  int64_t id = 0;  // audit id (0 if the audit write failed)
  ActionKind action = ActionKind::kNologin;
  std::string role;
  std::string schema;  // revoke_writes: the table
  std::string table;
  ActionResult result = ActionResult::kRefused;
  std::string reason;    // why refused / failed, or a note
  std::string sql;       // exact SQL run, or that would have run
  std::string undo_sql;  // exact SQL that undoes it
  nlohmann::json details = nlohmann::json::object();

  // ToJson is the form shown in incidents, pages and the status page.
  nlohmann::json ToJson() const;
};

// ActionPlan is what an action will do, read before anything runs: the
// exact SQL and the exact SQL that undoes it ("" when it cannot be undone).
struct ActionPlan {
  ActionKind action = ActionKind::kNologin;
  std::string role;
  TableRef table;  // revoke_writes only
  std::string sql;
  std::string undo_sql;
  // nothing_to_do: the state is already what the action would make it
  // (e.g. the role has NOLOGIN); `note` says so and no SQL runs.
  bool nothing_to_do = false;
  std::string note;
  nlohmann::json details = nlohmann::json::object();

  // Record is the plan as an action record with `result` and `reason`.
  ActionRecord Record(ActionResult result, std::string reason) const;
};

// ActionContext is what running an action may use besides its session.
struct ActionContext {
  const RemediationConfig* config = nullptr;
  const Clock* clock = nullptr;
};

// Action is one remediation action behind the one interface: Plan says
// exactly what would run and what undoes it (no I/O: only quoting); Inspect
// reads the current state into the plan (the sessions to end, the grants to
// take, whether there is anything to do), and the plan is then what dry-run
// mode reports; Run executes it (enforce mode) and returns its record.
class Action {
 public:
  virtual ~Action() = default;
  virtual ActionKind kind() const = 0;
  // per_table: the action runs once per affected table (revoke_writes).
  virtual bool per_table() const { return false; }
  virtual ActionPlan Plan(const pg::Session& quoter, const std::string& role,
                          const TableRef& table) const = 0;
  virtual absl::Status Inspect(pg::Session& conn, ActionPlan* plan) const = 0;
  virtual ActionRecord Run(pg::Session& conn, const ActionPlan& plan,
                           const ActionContext& context) const = 0;
};

// ActionSpec is one row of the action table.
struct ActionSpec {
  ActionKind kind;
  std::unique_ptr<Action> (*make)();
};

// IncidentActions is the explicit table of incident actions, in the order
// they run: nologin, terminate, revoke_writes.
const std::vector<ActionSpec>& IncidentActions();

// MakeAction returns the action for `kind` from the table (null for kinds
// that are not incident actions: cancel, undo).
std::unique_ptr<Action> MakeAction(ActionKind kind);

// The actions, one class each (remediation/*_action.cc).
std::unique_ptr<Action> MakeNologinAction();
std::unique_ptr<Action> MakeTerminateAction();
std::unique_ptr<Action> MakeRevokeWritesAction();

}  // namespace pgwarden

#endif  // PGWARDEN_REMEDIATION_ACTION_H_
