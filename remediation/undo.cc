#include "remediation/undo.h"

#include "absl/strings/str_cat.h"

namespace pgwarden {
namespace {

constexpr absl::Duration kUndoTimeout = absl::Seconds(10);

// CheckSlotIdle refuses to undo a slot creation while the slot is in use
// (dropping it would fail anyway; this says why, before trying).
absl::Status CheckSlotIdle(pg::Session& conn, const AuditRecord& original) {
  if (original.action != ActionKind::kCreateSlot) return absl::OkStatus();
  const std::string slot = original.details.value("slot", "");
  absl::StatusOr<pg::Result> r = conn.Query(
      "SELECT active, active_pid FROM pg_replication_slots WHERE slot_name = $1", {slot});
  if (!r.ok()) return r.status();
  if (r->empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("replication slot \"", slot, "\" no longer exists: nothing to undo"));
  }
  if ((*r)[0].Bool(0)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "refusing to drop replication slot \"", slot, "\": it is active (walsender pid ",
        (*r)[0].Int(1), "); stop the change stream using it first"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<AuditRecord> UndoPlan(const std::vector<AuditRecord>& all, int64_t action_id,
                                     const std::string& audit_path, absl::Time now) {
  const AuditRecord* original = nullptr;
  for (const AuditRecord& r : all) {
    if (r.id == action_id) original = &r;
  }
  if (original == nullptr) {
    return absl::NotFoundError(absl::StrCat("no action with id ", action_id, " in ", audit_path));
  }
  if (original->action == ActionKind::kUndo) {
    return absl::FailedPreconditionError(absl::StrCat("action ", action_id, " is itself an undo"));
  }
  if (original->result != ActionResult::kDone) {
    return absl::FailedPreconditionError(
        absl::StrCat("action ", action_id, " was not done (result ",
                     ActionResultName(original->result), "): nothing to undo"));
  }
  if (original->undo_sql.empty()) {
    const bool sessions =
        original->action == ActionKind::kTerminate || original->action == ActionKind::kCancel;
    const bool slot = original->action == ActionKind::kDropSlot;
    return absl::FailedPreconditionError(absl::StrCat(
        "action ", action_id, " (", ActionKindName(original->action), ") cannot be undone",
        sessions ? ": terminated sessions and cancelled statements cannot be restored" : "",
        slot ? ": a dropped slot's position cannot be restored (the change stream creates a "
               "new slot)"
             : ""));
  }
  for (const AuditRecord& r : all) {
    if (r.action == ActionKind::kUndo && r.undoes == action_id && r.result == ActionResult::kDone) {
      return absl::FailedPreconditionError(
          absl::StrCat("action ", action_id, " was already undone by action ", r.id));
    }
  }
  AuditRecord u;
  u.time = now;
  u.incident = original->incident;
  u.target = original->target;
  u.mode = original->mode;
  u.action = ActionKind::kUndo;
  u.role = original->role;
  u.schema = original->schema;
  u.table = original->table;
  u.sql = original->undo_sql;
  u.undo_sql = original->sql;
  u.undoes = action_id;
  return u;
}

absl::StatusOr<AuditRecord> Undo(pg::Session& conn, const std::string& audit_path,
                                 int64_t action_id, const Clock* clock) {
  absl::StatusOr<std::shared_ptr<AuditLog>> audit = AuditLog::Open(audit_path);
  if (!audit.ok()) return audit.status();
  absl::StatusOr<std::vector<AuditRecord>> all = AuditLog::ReadAll(audit_path);
  if (!all.ok()) return all.status();
  absl::StatusOr<AuditRecord> u = UndoPlan(*all, action_id, audit_path, clock->Now());
  if (!u.ok()) return u.status();
  for (const AuditRecord& r : *all) {
    if (r.id != action_id) continue;
    if (absl::Status idle = CheckSlotIdle(conn, r); !idle.ok()) return idle;
    if (r.action == ActionKind::kCreateSlot) u->details = r.details;
  }
  absl::Status result = absl::OkStatus();
  if (absl::StatusOr<pg::Result> r = conn.Execute(u->sql, kUndoTimeout); r.ok()) {
    u->result = ActionResult::kDone;
  } else {
    u->result = ActionResult::kFailed;
    u->reason = std::string(r.status().message());
    result = absl::FailedPreconditionError(
        absl::StrCat("undo of action ", action_id, " failed: ", r.status().message()));
  }
  if (absl::Status s = (*audit)->Append(&*u); !s.ok()) {
    return absl::InternalError(absl::StrCat("undo ", ActionResultName(u->result),
                                            " but audit write failed: ", s.message()));
  }
  if (!result.ok()) return result;
  return u;
}

}  // namespace pgwarden
