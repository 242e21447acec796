#ifndef PGWARDEN_REMEDIATION_SESSION_GUARD_H_
#define PGWARDEN_REMEDIATION_SESSION_GUARD_H_

#include <functional>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "absl/status/statusor.h"
#include "core/clock.h"
#include "nlohmann/json.hpp"
#include "pg/session.h"
#include "remediation/attribution.h"
#include "remediation/config.h"
#include "remediation/object_access.h"
#include "remediation/remediator.h"
#include "remediation/sql_text.h"

namespace pgwarden {

// FindingKind is what the session guard saw.
enum class FindingKind {
  kDestructiveInFlight,  // DELETE/UPDATE without WHERE, TRUNCATE, DROP on a watched table
  kIdleInTransaction,    // open transaction idle beyond runaway.idle_in_transaction
  kLongStatement,        // statement running beyond runaway.statement
  kBlocking,             // others waiting on its locks beyond runaway.blocking
  // ALTER TABLE ... DROP COLUMN / ALTER COLUMN ... TYPE on a watched table,
  // waiting for or holding its AccessExclusiveLock.
  kDestructiveDdl,
};

// kUncertainMinAge is how old an open transaction holding a write lock on a
// watched table must be before it is reported as an uncertain finding.
inline constexpr double kUncertainMinAgeSeconds = 2.0;

// kMassWriteShare: an open transaction holding RowExclusiveLock whose
// uncommitted deletes/updates (row versions with xmax = its xid) reach this
// share of the table, and remediation.min_rows, is a destructive statement in
// flight, acted on like a DELETE without WHERE.
inline constexpr double kMassWriteShare = 0.5;

// FindingKindName returns "destructive_in_flight", "idle_in_transaction",
// "long_statement", "blocking" or "destructive_ddl" (usable as an incident
// kind).
const char* FindingKindName(FindingKind kind);

// SessionFinding is one session the guard reports this tick.
struct SessionFinding {
  FindingKind kind = FindingKind::kDestructiveInFlight;
  SessionInfo session;
  std::string backend_start;  // identifies the backend together with the pid
  TableRef table;             // destructive_in_flight / _ddl: the watched table
  std::string statement;      // e.g. "DELETE without WHERE"
  double seconds = 0;         // how long the condition has lasted
  std::vector<int> blocked_pids;
  // allowed: the role is in inflight.allowed_roles (reported, never acted on).
  bool allowed = false;
  // window: the maintenance window covering `table`, if any (never acted
  // on; the caller reports it as silenced).
  std::string window;
  // certain: the destructive statement is visible in the session's query
  // text. Uncertain findings come from locks alone (an open transaction,
  // older than kUncertainMinAge, holding RowExclusiveLock or
  // AccessExclusiveLock on a watched table while its visible statement is
  // something else): reported, never acted on.
  bool certain = true;
  // For lock-only findings on RowExclusiveLock: the rows the open
  // transaction has deleted or updated so far, and the rows the table shows
  // (0 when not measured: no SELECT privilege, or the count timed out).
  int64_t uncommitted_rows = 0;
  int64_t table_rows = 0;
  // actions taken (or simulated, or refused) on this tick, if any.
  std::vector<ActionRecord> actions;

  nlohmann::json ToJson() const;
  // Summary is one line for a page or the log.
  std::string Summary() const;
};

// SessionGuard looks, once per tick and with one pg_stat_activity query, for
// destructive statements in flight on watched tables and (when enabled) for
// runaway sessions. Through the Remediator (and its guards and audit) it
// cancels a statement first and, if the same transaction is still there one
// cancel_grace later (or is idle, where a cancel does nothing), terminates
// the backend. Each step is taken once per backend and transaction.
// Not thread-safe: use it from the target's sampling thread.
class SessionGuard {
 public:
  // `remediator` may be null: findings are then only reported.
  SessionGuard(const RemediationConfig& config, Remediator* remediator, const Clock* clock);

  // Check returns this tick's findings; `watched` are the watched tables.
  // A watched object the role may not read never fails the check: it is
  // listed in ObjectErrors (logged once) and its writes are not measured.
  // `window`, when set, names the maintenance window covering a table (or
  // returns empty): findings on it are reported with that window and never
  // acted on.
  using WindowOf = std::function<std::string(const TableRef&)>;
  absl::StatusOr<std::vector<SessionFinding>> Check(pg::Session& conn, const std::string& target,
                                                    const std::vector<TableRef>& watched,
                                                    const WindowOf& window = nullptr);

  // unreadable lists the watched objects found unreadable at the last
  // privilege check.
  const std::vector<ObjectError>& unreadable() const { return unreadable_; }

 private:
  // Key: pid, backend_start, xact_start.
  using Key = std::tuple<int, std::string, std::string>;
  struct Step {
    absl::Time cancelled_at = absl::InfinitePast();
    bool cancelled = false;
    bool done = false;  // terminated, or refused / simulated: nothing more to do
  };
  void Enforce(pg::Session& conn, const std::string& target, const std::string& xact_raw,
               SessionFinding* finding, const std::vector<TableRef>& tables);
  struct UncommittedWrites {
    absl::Time at = absl::InfinitePast();
    bool ok = false;
    bool certain_once = false;
    bool sampled = false;  // estimated from a TABLESAMPLE of a big table
    int64_t rows = 0;
    int64_t table_rows = 0;
  };
  // Tables with more rows (planner estimate) are sampled, not counted.
  static constexpr int64_t kExactCountRows = 200000;
  static constexpr absl::Duration kRemeasureEvery = absl::Seconds(5);
  static constexpr absl::Duration kMeasureTimeout = absl::Seconds(2);
  static constexpr absl::Duration kPrivilegesEvery = absl::Seconds(10);
  // CheckPrivileges refreshes unreadable_ (every kPrivilegesEvery, or when
  // the watched list changes).
  void CheckPrivileges(pg::Session& conn, const std::string& target,
                       const std::vector<TableRef>& watched);
  bool Unreadable(const TableRef& table) const;
  // MeasureUncommitted counts the table's row versions whose xmax is the
  // transaction's xid (a sequential scan, or a sample of a big table, under a
  // 2 s statement_timeout), cached per transaction and table.
  const UncommittedWrites& MeasureUncommitted(pg::Session& conn, const Key& key,
                                              const TableRef& table, const std::string& xid);

  // ApplyMeasurement puts a measured mass write into a lock-only finding.
  static void ApplyMeasurement(const UncommittedWrites& u, SessionFinding* f);

  RemediationConfig config_;
  Remediator* remediator_;
  const Clock* clock_;
  std::map<Key, Step> steps_;
  std::map<std::tuple<Key, std::string, std::string>, UncommittedWrites> measured_;
  std::vector<ObjectError> unreadable_;
  absl::Time privileges_at_ = absl::InfinitePast();
  size_t privileges_watched_ = 0;
};

}  // namespace pgwarden

#endif  // PGWARDEN_REMEDIATION_SESSION_GUARD_H_
