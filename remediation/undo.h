#ifndef PGWARDEN_REMEDIATION_UNDO_H_
#define PGWARDEN_REMEDIATION_UNDO_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "core/clock.h"
#include "pg/session.h"
#include "remediation/audit.h"

namespace pgwarden {

// UndoPlan checks that the audited action `original` can be undone, given
// every record of its audit file: it must have been done, have an undo SQL
// (terminate and cancel have none) and not have been undone already. It
// returns the undo record to run (result not yet set).
absl::StatusOr<AuditRecord> UndoPlan(const std::vector<AuditRecord>& all, int64_t action_id,
                                     const std::string& audit_path, absl::Time now);

// Undo reverses the audited action `action_id` (nologin: LOGIN back;
// revoke_writes: the recorded grants back exactly; create_slot: the slot
// dropped, refused while the slot is active) by running its undo_sql, and
// appends an "undo" record. Refuses actions that were not done, that cannot
// be undone or that were already undone.
absl::StatusOr<AuditRecord> Undo(pg::Session& conn, const std::string& audit_path,
                                 int64_t action_id, const Clock* clock);

}  // namespace pgwarden

#endif  // PGWARDEN_REMEDIATION_UNDO_H_
