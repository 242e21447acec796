#ifndef PGWARDEN_SOURCES_SLOT_TOOLS_H_
#define PGWARDEN_SOURCES_SLOT_TOOLS_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "pg/session.h"
#include "remediation/audit.h"

namespace pgwarden {

// kSlotPlugin is the output plugin of the change stream's slots.
inline constexpr char kSlotPlugin[] = "test_decoding";

// SlotReport is what the server says about the change stream's
// prerequisites and its replication slot.
struct SlotReport {
  std::string wal_level;
  std::string role;
  // can_replicate: the role has REPLICATION or is a superuser.
  bool can_replicate = false;
  // max_slot_wal_keep_size in MB; -1 (unbounded_retention) means a slot
  // nobody reads keeps WAL until the disk fills.
  int64_t max_slot_wal_keep_size_mb = -1;
  bool unbounded_retention = true;
  bool exists = false;
  std::string plugin;
  std::string slot_type;  // "logical" or "physical"
  std::string database;
  bool active = false;
  int64_t active_pid = 0;
  // wal_status: reserved, extended, unreserved or lost ("" when absent).
  std::string wal_status;
  uint64_t restart_lsn = 0;
  uint64_t confirmed_flush_lsn = 0;
  uint64_t current_wal_lsn = 0;
  // retained_bytes: pg_current_wal_lsn() - restart_lsn (WAL kept for it).
  int64_t retained_bytes = 0;
  // lag_bytes: pg_current_wal_lsn() - confirmed_flush_lsn.
  int64_t lag_bytes = 0;
};

// InspectSlot reads the settings, the role's privileges and the slot.
absl::StatusOr<SlotReport> InspectSlot(pg::Session& conn, const std::string& slot);

// SlotSql is the SQL of slot actions as audited (the slot name quoted).
std::string CreateSlotSql(const pg::Session& conn, const std::string& slot);
std::string DropSlotSql(const pg::Session& conn, const std::string& slot);

// CreateSlot creates the logical slot (plugin test_decoding; the name is
// passed as a parameter) and appends a create_slot record, with the SQL that
// drops it as undo_sql, to the audit file at `audit_path` ("" = no audit).
absl::StatusOr<AuditRecord> CreateSlot(pg::Session& conn, const std::string& slot,
                                       const std::string& audit_path, const std::string& target,
                                       const std::string& reason, absl::Time now);

// DropSlot drops the slot and audits it as drop_slot. An active slot is
// refused (FailedPrecondition, naming its walsender pid), a missing one is
// NotFound; with `dry_run` nothing runs and the record (result dry_run)
// carries the SQL that would have run. Refusals are audited too.
absl::StatusOr<AuditRecord> DropSlot(pg::Session& conn, const std::string& slot, bool dry_run,
                                     const std::string& audit_path, const std::string& target,
                                     const std::string& reason, absl::Time now);

}  // namespace pgwarden

#endif  // PGWARDEN_SOURCES_SLOT_TOOLS_H_
