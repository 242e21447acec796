#ifndef PGWARDEN_REMEDIATION_REMEDIATOR_H_
#define PGWARDEN_REMEDIATION_REMEDIATOR_H_

#include <cstdint>
#include <memory>
#include <pqxx/connection>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/clock.h"
#include "nlohmann/json.hpp"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/registry.h"
#include "remediation/attribution.h"
#include "remediation/audit.h"
#include "remediation/config.h"
#include "remediation/sql_text.h"

namespace pgwarden {

// ActionResult is the outcome of one action: done, dry_run (would have run),
// refused by a guard, or failed.
enum class ActionResult { kDone, kDryRun, kRefused, kFailed };

// ActionResultName returns "done", "dry_run", "refused" or "failed".
const char* ActionResultName(ActionResult result);

// ActionRecord is what Act returns for each action considered; the same
// content is appended to the audit file under `id`.
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

// RemediationRequest asks the Remediator to act on the culprits of one
// incident.
struct RemediationRequest {
  std::string incident_id;
  std::string target;
  // Affected tables (schema-qualified); revoke_writes applies to each.
  std::vector<TableRef> tables;
  Attribution attribution;
  int64_t rows_dropped = 0;
};

// SessionActionRequest asks to cancel (then, on a later call, terminate) one
// backend, for the session guard.
struct SessionActionRequest {
  std::string incident_id;
  std::string target;
  int pid = 0;
  std::string role;
  // backend_start (ISO 8601 as read from pg_stat_activity) identifies the
  // backend so that a reused pid is never signalled.
  std::string backend_start;
  bool terminate = false;  // false: pg_cancel_backend; true: pg_terminate_backend
  std::string why;         // e.g. "DELETE without WHERE on public.big in flight"
  std::vector<TableRef> tables;
};

// Remediator applies the configured actions to the roles an Attribution
// names, behind every guard: mode, advisory-lock leadership, superuser,
// protected role, the agent's own role, table owner, confidence, rows and
// roles-per-hour. Each action, simulation and refusal is audited and
// counted in pgwarden_remediation_actions_total{target,action,result}.
//
// Use one dedicated connection per Remediator: leadership is a session-level
// advisory lock held by that connection for as long as it lives.
class Remediator {
 public:
  // Create opens (or shares) the audit file at `audit_path` and registers the
  // counter family with `const_labels` (e.g. {environment}); the target is a
  // per-series label taken from each request. `registry` may be null.
  static absl::StatusOr<std::unique_ptr<Remediator>> Create(
      const RemediationConfig& config, const std::string& agent_role, const std::string& audit_path,
      prometheus::Registry* registry, const prometheus::Labels& const_labels, const Clock* clock);

  // Act decides and (in enforce mode) runs, in order, nologin, terminate and
  // revoke_writes for each culprit. Never throws; failures are records.
  // Idempotent per incident: an action already done (or simulated, or
  // refused for the same reason) for the same incident, role and table is
  // not repeated or re-audited, so Act may be called on every tick while
  // the incident is open. Thread-safe (the connection must not be shared
  // with another thread meanwhile).
  std::vector<ActionRecord> Act(pqxx::connection& conn, const RemediationRequest& request);

  // ActOnSession cancels or terminates one backend behind the same guards
  // (but confidence and rows) and audits it.
  ActionRecord ActOnSession(pqxx::connection& conn, const SessionActionRequest& request);

  // IsLeader tries (once per connection) to take the advisory lock; true
  // when this Remediator holds it.
  absl::StatusOr<bool> IsLeader(pqxx::connection& conn);

  // Status is the remediation part of the status page: mode, actions,
  // leadership and the most recent records.
  nlohmann::json Status() const;

  const RemediationConfig& config() const { return config_; }
  const std::string& audit_path() const { return audit_->path(); }

 private:
  Remediator(const RemediationConfig& config, std::string agent_role,
             std::shared_ptr<AuditLog> audit, prometheus::Family<prometheus::Counter>* family,
             const Clock* clock)
      : config_(config),
        agent_role_(std::move(agent_role)),
        audit_(std::move(audit)),
        family_(family),
        clock_(clock) {}

  // RoleGuard returns "" if `role` may be acted on, else the reason.
  std::string RoleGuard(pqxx::connection& conn, const std::string& role,
                        const std::vector<TableRef>& tables, bool* is_error);
  // Finish audits and counts one record.
  ActionRecord Finish(const std::string& incident, const std::string& target, ActionRecord rec);

  ActionRecord Nologin(pqxx::connection& conn, const std::string& role);
  ActionRecord Terminate(pqxx::connection& conn, const std::string& role);
  ActionRecord RevokeWrites(pqxx::connection& conn, const std::string& role, const TableRef& table);

  RemediationConfig config_;
  std::string agent_role_;
  std::shared_ptr<AuditLog> audit_;
  prometheus::Family<prometheus::Counter>* family_;
  const Clock* clock_;
  absl::StatusOr<bool> IsLeaderLocked(pqxx::connection& conn);
  // LeaderAndRoleGuard returns "" when this agent holds the advisory lock
  // (`leader`) and `role` may be acted on, else the reason (*failed when
  // the lock could not be checked).
  std::string LeaderAndRoleGuard(const absl::StatusOr<bool>& leader, pqxx::connection& conn,
                                 const std::string& role, const std::vector<TableRef>& tables,
                                 bool* failed);
  // RateLimitRefusal returns "" unless acting on `role` would exceed
  // max_roles_per_hour.
  std::string RateLimitRefusal(const std::string& role);

  mutable std::mutex mu_;
  int leader_backend_pid_ = 0;
  bool leader_ = false;
  // (incident, role, action, schema, table) -> result/reason already recorded.
  std::map<std::tuple<std::string, std::string, int, std::string, std::string>, std::string>
      recorded_;
  std::deque<ActionRecord> recent_;
};

// Undo reverses the audited action `action_id` (nologin: LOGIN back;
// revoke_writes: the recorded grants back exactly) by running its undo_sql,
// and appends an "undo" record. Refuses actions that were not done, that
// cannot be undone (terminate, cancel) or that were already undone.
absl::StatusOr<AuditRecord> Undo(pqxx::connection& conn, const std::string& audit_path,
                                 int64_t action_id, const Clock* clock);

// FindAuditRecord returns the record `action_id` of an audit file (so that
// `pgwarden undo` can pick the target whose database to connect to).
absl::StatusOr<AuditRecord> FindAuditRecord(const std::string& audit_path, int64_t action_id);

// TableGrant is one privilege a role holds on a table (aclexplode).
struct TableGrant {
  std::string privilege;  // INSERT, UPDATE, DELETE, TRUNCATE, ...
  std::string grantor;
  bool grantable = false;
  bool operator<(const TableGrant& o) const;
  bool operator==(const TableGrant& o) const;
};

// ReadTableGrants returns the privileges granted directly to `role` on
// schema.table, sorted.
absl::StatusOr<std::vector<TableGrant>> ReadTableGrants(pqxx::connection& conn,
                                                        const std::string& role,
                                                        const TableRef& table);

}  // namespace pgwarden

#endif  // PGWARDEN_REMEDIATION_REMEDIATOR_H_
