#include "sources/slot_tools.h"

#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "sources/table_changes.h"

namespace pgwarden {
namespace {

constexpr absl::Duration kDropTimeout = absl::Seconds(10);

constexpr char kSettingsSql[] =
    "SELECT current_setting('wal_level'), current_user::text,"
    " (SELECT rolreplication OR rolsuper FROM pg_roles WHERE rolname = current_user),"
    " (SELECT setting::bigint FROM pg_settings WHERE name = 'max_slot_wal_keep_size'),"
    " CASE WHEN pg_is_in_recovery() THEN NULL ELSE pg_current_wal_lsn()::text END";

constexpr char kSlotSql[] =
    "SELECT plugin::text, slot_type, database::text, active, active_pid, wal_status,"
    " restart_lsn::text, confirmed_flush_lsn::text,"
    " pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::bigint,"
    " pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::bigint"
    " FROM pg_replication_slots WHERE slot_name = $1";

uint64_t Lsn(const pg::Row& row, size_t col) {
  uint64_t lsn = 0;
  if (!row.IsNull(col)) ParseLsn(row.Text(col), &lsn);
  return lsn;
}

AuditRecord SlotRecord(ActionKind kind, const std::string& slot, const std::string& target,
                       const std::string& reason, absl::Time now) {
  AuditRecord r;
  r.time = now;
  r.target = target;
  r.mode = RemediationMode::kEnforce;
  r.action = kind;
  r.reason = reason;
  r.details = {{"slot", slot}, {"plugin", kSlotPlugin}};
  return r;
}

absl::Status Audit(const std::string& audit_path, AuditRecord* record) {
  if (audit_path.empty()) return absl::OkStatus();
  absl::StatusOr<std::shared_ptr<AuditLog>> log = AuditLog::Open(audit_path);
  if (!log.ok()) return log.status();
  return (*log)->Append(record);
}

}  // namespace

absl::StatusOr<SlotReport> InspectSlot(pg::Session& conn, const std::string& slot) {
  absl::StatusOr<pg::Result> settings = conn.Query(kSettingsSql);
  if (!settings.ok()) return settings.status();
  if (settings->empty()) return absl::InternalError("settings query returned no row");
  SlotReport r;
  const pg::Row& s = (*settings)[0];
  r.wal_level = s.Text(0);
  r.role = s.Text(1);
  r.can_replicate = s.Bool(2);
  r.max_slot_wal_keep_size_mb = s.Int(3, -1);
  r.unbounded_retention = r.max_slot_wal_keep_size_mb < 0;
  r.current_wal_lsn = Lsn(s, 4);
  absl::StatusOr<pg::Result> rows = conn.Query(kSlotSql, {slot});
  if (!rows.ok()) return rows.status();
  if (rows->empty()) return r;
  const pg::Row& row = (*rows)[0];
  r.exists = true;
  r.plugin = row.Text(0);
  r.slot_type = row.Text(1);
  r.database = row.Text(2);
  r.active = row.Bool(3);
  r.active_pid = row.Int(4);
  r.wal_status = row.Text(5);
  r.restart_lsn = Lsn(row, 6);
  r.confirmed_flush_lsn = Lsn(row, 7);
  r.retained_bytes = row.Int(8);
  r.lag_bytes = row.Int(9);
  return r;
}

std::string CreateSlotSql(const pg::Session& conn, const std::string& slot) {
  return absl::StrCat("SELECT pg_create_logical_replication_slot(", conn.Quote(slot), ", ",
                      conn.Quote(kSlotPlugin), ")");
}

std::string DropSlotSql(const pg::Session& conn, const std::string& slot) {
  return absl::StrCat("SELECT pg_drop_replication_slot(", conn.Quote(slot), ")");
}

absl::StatusOr<AuditRecord> CreateSlot(pg::Session& conn, const std::string& slot,
                                       const std::string& audit_path, const std::string& target,
                                       const std::string& reason, absl::Time now) {
  AuditRecord r = SlotRecord(ActionKind::kCreateSlot, slot, target, reason, now);
  r.sql = CreateSlotSql(conn, slot);
  r.undo_sql = DropSlotSql(conn, slot);
  // Outside a transaction block: creating a logical slot waits for the
  // transactions running now to finish.
  absl::StatusOr<pg::Result> done =
      conn.Query("SELECT pg_create_logical_replication_slot($1, $2)", {slot, kSlotPlugin});
  r.result = done.ok() ? ActionResult::kDone : ActionResult::kFailed;
  if (!done.ok()) r.reason = absl::StrCat(reason, "; failed: ", done.status().message());
  absl::Status audited = Audit(audit_path, &r);
  if (!done.ok()) {
    return absl::Status(done.status().code(), absl::StrCat("cannot create replication slot ", slot,
                                                           ": ", done.status().message()));
  }
  if (!audited.ok()) {
    return absl::InternalError(absl::StrCat(
        "replication slot ", slot, " created but the audit write failed: ", audited.message()));
  }
  return r;
}

absl::StatusOr<AuditRecord> DropSlot(pg::Session& conn, const std::string& slot, bool dry_run,
                                     const std::string& audit_path, const std::string& target,
                                     const std::string& reason, absl::Time now) {
  absl::StatusOr<SlotReport> report = InspectSlot(conn, slot);
  if (!report.ok()) return report.status();
  if (!report->exists) {
    return absl::NotFoundError(absl::StrCat("replication slot \"", slot, "\" does not exist"));
  }
  AuditRecord r = SlotRecord(ActionKind::kDropSlot, slot, target, reason, now);
  r.sql = DropSlotSql(conn, slot);
  r.details["wal_status"] = report->wal_status;
  r.details["confirmed_flush_lsn"] = FormatLsn(report->confirmed_flush_lsn);
  absl::Status outcome = absl::OkStatus();
  if (report->active) {
    r.result = ActionResult::kRefused;
    r.reason = absl::StrCat("slot is active (walsender pid ", report->active_pid, ")");
    outcome = absl::FailedPreconditionError(absl::StrCat(
        "refusing to drop replication slot \"", slot, "\": it is active (walsender pid ",
        report->active_pid, "); stop its consumer first"));
  } else if (dry_run) {
    r.mode = RemediationMode::kDryRun;
    r.result = ActionResult::kDryRun;
  } else if (absl::StatusOr<pg::Result> done =
                 conn.Execute("SELECT pg_drop_replication_slot($1)", kDropTimeout, {slot});
             done.ok()) {
    r.result = ActionResult::kDone;
  } else {
    r.result = ActionResult::kFailed;
    r.reason = absl::StrCat(reason, "; failed: ", done.status().message());
    outcome = absl::Status(
        done.status().code(),
        absl::StrCat("cannot drop replication slot \"", slot, "\": ", done.status().message()));
  }
  absl::Status audited = Audit(audit_path, &r);
  if (!outcome.ok()) return outcome;
  if (!audited.ok()) {
    return absl::InternalError(absl::StrCat("slot drop ", ActionResultName(r.result),
                                            " but the audit write failed: ", audited.message()));
  }
  return r;
}

}  // namespace pgwarden
