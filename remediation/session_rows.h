#ifndef PGWARDEN_REMEDIATION_SESSION_ROWS_H_
#define PGWARDEN_REMEDIATION_SESSION_ROWS_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "pg/session.h"
#include "remediation/attribution.h"
#include "signals/table_ref.h"

namespace pgwarden {

// SessionRow is one client backend as the session guard reads it.
struct SessionRow {
  SessionInfo info;
  std::string backend_start;
  std::string xact_raw;
  std::string backend_xid;  // "" when the transaction has not written yet
  double state_age = -1;
  std::vector<int> blockers;
  std::vector<std::pair<std::string, std::string>> locks;  // "schema.table", mode
  std::vector<std::string> waiting_exclusive;              // "schema.table"
};

// ReadSessions reads every client backend of the database (one query), with
// its granted locks on the `watched` tables and the watched tables it waits
// to lock in AccessExclusiveLock. Watched tables are resolved through the
// catalogs only: one the role may not read never fails the query.
absl::StatusOr<std::vector<SessionRow>> ReadSessions(pg::Session& conn,
                                                     const std::vector<TableRef>& watched);

}  // namespace pgwarden

#endif  // PGWARDEN_REMEDIATION_SESSION_ROWS_H_
