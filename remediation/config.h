#ifndef PGWARDEN_REMEDIATION_CONFIG_H_
#define PGWARDEN_REMEDIATION_CONFIG_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "core/config_node.h"

namespace pgwarden {

// RemediationMode says whether remediation runs SQL (enforce), only reports
// what it would run (dry-run) or does nothing at all (off).
enum class RemediationMode { kOff, kDryRun, kEnforce };

// RemediationModeName returns "off", "dry-run" or "enforce".
const char* RemediationModeName(RemediationMode mode);

// ActionKind names one remediation action. kCancel is used by the session
// guard (cancel a statement, then terminate its backend) and is not a
// configurable incident action; kCreateSlot and kDropSlot are the change
// stream's replication slot, created by the agent or dropped by an operator
// (audited like actions, not configurable either).
enum class ActionKind {
  kNologin,
  kRevokeWrites,
  kTerminate,
  kCancel,
  kUndo,
  kCreateSlot,
  kDropSlot,
  kRestoreRows
};

// ActionKindName returns "nologin", "revoke_writes", "terminate", "cancel",
// "undo", "create_slot", "drop_slot" or "restore_rows" (the spelling used in the config, the
// audit file and metrics).
const char* ActionKindName(ActionKind kind);

// RunawayConfig is the policy for runaway sessions: an open transaction idle
// for longer than `idle_in_transaction`, a statement running longer than
// `statement`, or a session that has kept others waiting on its locks for
// longer than `blocking`. Reported whenever enabled; acted on in enforce mode.
struct RunawayConfig {
  bool enabled = false;
  absl::Duration idle_in_transaction = absl::Minutes(5);
  absl::Duration statement = absl::Minutes(15);
  absl::Duration blocking = absl::Minutes(2);
};

// InflightConfig is the policy for destructive statements still in flight
// (DELETE or UPDATE without WHERE, TRUNCATE, DROP TABLE on a watched table in
// an open transaction): reported when enabled, cancelled in enforce mode
// unless the role is in `allowed_roles`.
struct InflightConfig {
  bool enabled = true;
  std::vector<std::string> allowed_roles;
};

// RemediationConfig is the `remediation:` section of the config file.
struct RemediationConfig {
  RemediationMode mode = RemediationMode::kDryRun;
  // Incident actions, run in the fixed order nologin, terminate,
  // revoke_writes whatever order they are listed in.
  std::vector<ActionKind> actions = {ActionKind::kNologin, ActionKind::kRevokeWrites,
                                     ActionKind::kTerminate};
  std::vector<std::string> protected_roles = {"postgres"};
  // Per culprit: rows attributed / rows dropped must reach min_confidence and
  // rows attributed must reach min_rows.
  double min_confidence = 0.5;
  int64_t min_rows = 1000;
  // At most this many distinct roles acted on (done or dry_run) per hour.
  int64_t max_roles_per_hour = 3;
  // Empty means "<state_dir>/audit.log" (see AuditPath).
  std::string audit_file;
  // Key of the session-level pg_try_advisory_lock that elects the one agent
  // that acts when several watch the same database.
  int64_t advisory_lock_key = 0x7067776172646e00;  // "pgwardn\0"
  // How long `terminate` waits after cancelling statements before it
  // terminates the backends.
  absl::Duration cancel_grace = absl::Milliseconds(500);
  // statement_timeout / lock_timeout for the agent's own remediation SQL.
  absl::Duration statement_timeout = absl::Seconds(10);
  RunawayConfig runaway;
  InflightConfig inflight;

  // HasAction reports whether `kind` is among the configured actions.
  bool HasAction(ActionKind kind) const;
  // AuditPath returns audit_file, or "<state_dir>/audit.log" when unset.
  std::string AuditPath(const std::string& state_dir) const;
};

// ParseRemediationConfig fills *out from the `remediation:` node (absent
// means defaults). Unknown keys, wrong types and impossible values are
// recorded in node.errors() with their path.
void ParseRemediationConfig(const ConfigNode& node, RemediationConfig* out);

}  // namespace pgwarden

#endif  // PGWARDEN_REMEDIATION_CONFIG_H_
