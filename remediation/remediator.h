#ifndef PGWARDEN_REMEDIATION_REMEDIATOR_H_
#define PGWARDEN_REMEDIATION_REMEDIATOR_H_

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "core/clock.h"
#include "core/degraded.h"
#include "nlohmann/json.hpp"
#include "pg/session.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/registry.h"
#include "remediation/action.h"
#include "remediation/attribution.h"
#include "remediation/audit.h"
#include "remediation/config.h"
#include "remediation/policy.h"

namespace pgwarden {

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

// Remediator applies the configured actions (remediation/action.h) to the
// roles an Attribution names, behind every guard (remediation/policy.h):
// mode, advisory-lock leadership, superuser, protected role, the agent's own
// role, table owner, confidence, rows and roles-per-hour. Each action,
// simulation and refusal is audited and counted in
// pgwarden_remediation_actions_total{target,action,result}.
//
// Use one dedicated session per Remediator: leadership is a session-level
// advisory lock held by that session for as long as it lives.
class Remediator {
 public:
  // Create opens (or shares) the audit file at `audit_path` and registers the
  // counter family with `const_labels` (e.g. {environment}); the target is a
  // per-series label taken from each request. `registry` and `degraded` may
  // be null.
  // RegisterActionsMetric registers (or finds) pgwarden_remediation_actions_total
  // with `const_labels` and, for each of `targets`, creates every action x
  // result series at 0: a counter that first appears at 1 hides that
  // increment from increase() and rate().
  static absl::StatusOr<prometheus::Family<prometheus::Counter>*> RegisterActionsMetric(
      prometheus::Registry* registry, const prometheus::Labels& const_labels,
      const std::vector<std::string>& targets = {});
  static absl::StatusOr<std::unique_ptr<Remediator>> Create(
      const RemediationConfig& config, const std::string& agent_role, const std::string& audit_path,
      prometheus::Registry* registry, const prometheus::Labels& const_labels, const Clock* clock,
      Degraded* degraded = nullptr);

  // Act decides and (in enforce mode) runs, in the order of the action
  // table, each configured action for each culprit. Failures are records.
  // Idempotent per incident: an action already done (or simulated, or
  // refused for the same reason) for the same incident, role and table is
  // not repeated or re-audited, so Act may be called on every tick while
  // the incident is open. Thread-safe (the session must not be shared with
  // another thread meanwhile).
  std::vector<ActionRecord> Act(pg::Session& conn, const RemediationRequest& request);

  // ActOnSession cancels or terminates one backend behind the same guards
  // (but confidence and rows) and audits it.
  ActionRecord ActOnSession(pg::Session& conn, const SessionActionRequest& request);

  // IsLeader tries (once per session) to take the advisory lock; true when
  // this Remediator holds it.
  absl::StatusOr<bool> IsLeader(pg::Session& conn);

  // leader is what the last IsLeader (or Act) found; no I/O.
  bool leader() const {
    absl::MutexLock lock(&status_mu_);
    return leader_;
  }

  // Status is the remediation part of the status page: mode, actions,
  // leadership and the most recent records. Never waits on an action.
  nlohmann::json Status() const;

  const RemediationConfig& config() const { return config_; }
  const std::string& audit_path() const { return audit_->path(); }

 private:
  Remediator(const RemediationConfig& config, std::string agent_role,
             std::shared_ptr<AuditLog> audit, prometheus::Family<prometheus::Counter>* family,
             const Clock* clock, Degraded* degraded);

  absl::StatusOr<bool> IsLeaderLocked(pg::Session& conn) ABSL_EXCLUSIVE_LOCKS_REQUIRED(act_mu_);
  // RoleRefusal runs the leader and role guards.
  Refusal RoleRefusal(const absl::StatusOr<bool>& leader, pg::Session& conn,
                      const std::string& role, const std::vector<TableRef>& tables);
  // ActOnCulprit runs (or refuses) each action of `actions` for one culprit.
  void ActOnCulprit(pg::Session& conn, const RemediationRequest& request, const Culprit& culprit,
                    const Refusal& refusal, std::vector<ActionRecord>* out)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(act_mu_);
  // Perform plans and (in enforce mode) runs one action.
  ActionRecord Perform(pg::Session& conn, const Action& action, const std::string& role,
                       const TableRef& table);
  // Finish audits, counts and logs one record.
  ActionRecord Finish(const std::string& incident, const std::string& target, ActionRecord rec);

  const RemediationConfig config_;
  const std::string agent_role_;
  std::shared_ptr<AuditLog> audit_;
  prometheus::Family<prometheus::Counter>* family_;
  const Clock* clock_;
  Degraded* degraded_;
  std::vector<std::unique_ptr<Action>> actions_;  // configured ones, in table order

  // act_mu_ serializes decisions and actions (held while SQL runs and the
  // audit file is fsynced); status_mu_ guards what Status() reads and is
  // never held across I/O.
  absl::Mutex act_mu_;
  int leader_backend_pid_ ABSL_GUARDED_BY(act_mu_) = 0;
  // What was recorded per (incident, role, action, schema, table).
  struct Recorded {
    ActionResult result;
    std::string reason;
  };
  std::map<std::tuple<std::string, std::string, ActionKind, std::string, std::string>, Recorded>
      recorded_ ABSL_GUARDED_BY(act_mu_);
  mutable absl::Mutex status_mu_;
  bool leader_ ABSL_GUARDED_BY(status_mu_) = false;
  std::deque<ActionRecord> recent_ ABSL_GUARDED_BY(status_mu_);
};

}  // namespace pgwarden

#endif  // PGWARDEN_REMEDIATION_REMEDIATOR_H_
