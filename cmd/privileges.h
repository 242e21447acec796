#ifndef PGWARDEN_CMD_PRIVILEGES_H_
#define PGWARDEN_CMD_PRIVILEGES_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "pg/session.h"
#include "remediation/config.h"
#include "signals/table_ref.h"

namespace pgwarden {

// MissingPrivilege is one privilege the agent's role lacks for the
// configured remediation (for `pgwarden check`).
struct MissingPrivilege {
  std::string privilege;   // e.g. "pg_signal_backend"
  std::string needed_for;  // what fails without it
  std::string grant_sql;   // the statement an administrator runs to grant it
  bool required = true;    // false: degraded, not broken
};

// CheckPrivileges lists what the connected role lacks for `config`:
// pg_read_all_stats (via pg_monitor) to see other roles' statements,
// CREATEROLE for nologin, pg_signal_backend for terminate / cancel, and
// membership in the owner role of each table (in `tables`, or of every user
// table when empty) for revoke_writes; pg_stat_statements (optional).
absl::StatusOr<std::vector<MissingPrivilege>> CheckPrivileges(
    pg::Session& conn, const RemediationConfig& config, const std::vector<TableRef>& tables = {});

}  // namespace pgwarden

#endif  // PGWARDEN_CMD_PRIVILEGES_H_
