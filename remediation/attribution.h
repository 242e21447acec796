#ifndef PGWARDEN_REMEDIATION_ATTRIBUTION_H_
#define PGWARDEN_REMEDIATION_ATTRIBUTION_H_

#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "core/clock.h"
#include "nlohmann/json.hpp"
#include "pg/session.h"
#include "remediation/sql_text.h"

namespace pgwarden {

// SessionInfo is one client backend as seen in pg_stat_activity (and, for
// the affected relation, pg_locks).
struct SessionInfo {
  int pid = 0;
  std::string role;  // session user (usename)
  std::string application;
  std::string client;  // client address, or "local" for a Unix socket
  std::string state;   // active, idle, idle in transaction, ...
  std::string query;   // current or last statement (truncated)
  // xact_start / query_start / state_change as ISO 8601 text ("" if none).
  std::string xact_start;
  double xact_age_seconds = -1;   // -1 when no transaction is open
  double query_age_seconds = -1;  // time since query_start
  // lock_modes held (granted) on the affected relation, comma separated.
  std::string lock_modes;
  // writes lists what the session's current/last statement does to the
  // affected relation, e.g. "DELETE", "DELETE without WHERE".
  std::vector<std::string> writes;

  nlohmann::json ToJson() const;
};

// Culprit is one role that removed rows from the affected table.
struct Culprit {
  std::string role;
  std::vector<int> pids;    // its sessions in the database now
  std::string application;  // of its most relevant session
  std::string client;
  // rows_attributed: rows its DELETEs removed in the window (from
  // pg_stat_statements), plus the rows dropped by its TRUNCATEs; for an
  // attribution of updates, the rows its UPDATEs changed.
  int64_t rows_attributed = 0;
  int64_t rows_updated = 0;
  int64_t truncates = 0;
  double rows_per_second = 0;
  // confidence = rows_attributed / rows_dropped, capped at 1; without
  // statement evidence a lone suspect seen only in pg_stat_activity /
  // pg_locks gets kActivityOnlyConfidence (split between suspects).
  double confidence = 0;
  // in_flight: a session of the role holds a write lock on the table now.
  bool in_flight = false;
  std::vector<std::string> evidence;  // pg_stat_statements, pg_stat_activity, pg_locks
  std::vector<SessionInfo> sessions;

  nlohmann::json ToJson() const;
};

// kActivityOnlyConfidence is the confidence given to a single suspect seen
// running or having last run a DELETE/UPDATE/TRUNCATE on the table when no
// row counts prove it (below the default min_confidence on purpose).
inline constexpr double kActivityOnlyConfidence = 0.4;

// Attribution answers "who is removing rows from schema.table".
struct Attribution {
  std::string schema;
  std::string table;
  int64_t oid = 0;
  int64_t rows_dropped = 0;
  int64_t rows_attributed = 0;  // sum over culprits
  double window_seconds = 0;    // span of the pg_stat_statements delta
  // confidence = rows attributed / rows dropped (capped at 1), or the best
  // activity-only confidence when no rows could be attributed.
  double confidence = 0;
  bool statements_available = false;  // pg_stat_statements was readable
  std::vector<Culprit> culprits;      // most rows first
  // lock_holders are all sessions holding a lock on the relation.
  std::vector<SessionInfo> lock_holders;

  // Top returns the culprit with most rows, or null.
  const Culprit* Top() const { return culprits.empty() ? nullptr : &culprits.front(); }
  // ToJson is the form shown in incidents, pages and the status page.
  nlohmann::json ToJson() const;
  // Summary is one line: "role app@client deleted N rows (R/s), confidence C".
  std::string Summary() const;
};

// AttributionRequest names the affected table and how many rows it lost.
struct AttributionRequest {
  std::string schema;
  std::string table;
  int64_t oid = 0;  // 0: looked up from schema.table
  int64_t rows_dropped = 0;
  // since: when the drop began; the pg_stat_statements baseline used is the
  // newest one taken at or before it (InfinitePast: the oldest kept).
  absl::Time since = absl::InfinitePast();
  // updates: the table's rows were overwritten, not removed (an
  // update_spike): rows_dropped counts rows updated, a role's UPDATE rows
  // are its rows and a session updating the table is a suspect. Otherwise
  // UPDATE rows are evidence only (rows_updated), never a suspect's rows.
  bool updates = false;
};

// AttributorOptions tunes how many pg_stat_statements baselines are kept.
struct AttributorOptions {
  // A baseline is taken at most once per spacing (Observe is cheap between).
  absl::Duration snapshot_spacing = absl::Seconds(5);
  // Baselines kept (spacing * count is the longest window attributable).
  int max_snapshots = 36;
  // Statement text kept per session.
  int max_query_chars = 1000;
};

// Attributor keeps, for one target database, recent pg_stat_statements
// counters per (role, statement) and answers who removed rows from a table.
// Not thread-safe: use it from the target's sampling thread.
class Attributor {
 public:
  explicit Attributor(const Clock* clock, AttributorOptions options = {});

  // Observe is called once per tick; at most once per snapshot_spacing it
  // reads the pg_stat_statements counters of the current database (without
  // query text) as a baseline. OK (and a no-op) when the extension is absent.
  absl::Status Observe(pg::Session& conn);

  // Attribute reads pg_stat_statements deltas since the baseline, plus
  // pg_stat_activity and pg_locks on the relation, and names the culprits.
  absl::StatusOr<Attribution> Attribute(pg::Session& conn, const AttributionRequest& request);

  // snapshots returns how many baselines are held (for tests and status).
  size_t snapshots() const { return snapshots_.size(); }

 private:
  // Key is (userid, queryid, toplevel).
  using Key = std::tuple<int64_t, int64_t, bool>;
  struct Counters {
    int64_t calls = 0;
    int64_t rows = 0;
  };
  struct Snapshot {
    absl::Time time;
    std::map<Key, Counters> counters;
  };
  struct RoleStats {
    int64_t deleted = 0;
    int64_t updated = 0;
    int64_t truncates = 0;
  };
  absl::StatusOr<bool> StatementsAvailable(pg::Session& conn);
  absl::StatusOr<std::map<Key, Counters>> ReadCounterRows(pg::Session& conn);
  // ReadRoleStats sums, per role, the pg_stat_statements deltas of writes
  // to the request's table since its baseline.
  absl::StatusOr<std::map<std::string, RoleStats>> ReadRoleStats(pg::Session& conn,
                                                                 const AttributionRequest& request,
                                                                 double* window_seconds);
  // ReadSessions lists client backends with their locks on `oid` and what
  // their statements write to the request's table.
  absl::StatusOr<std::vector<SessionInfo>> ReadSessions(pg::Session& conn,
                                                        const AttributionRequest& request,
                                                        int64_t oid);
  // StatementCulprits names a culprit for each role with statement evidence
  // of removed, updated or truncated rows (its rows: the updated ones when
  // `updates`, else the deleted ones).
  static std::map<std::string, Culprit> StatementCulprits(
      const std::map<std::string, RoleStats>& by_role, bool updates);

  const Clock* clock_;
  AttributorOptions options_;
  std::deque<Snapshot> snapshots_;
};

}  // namespace pgwarden

#endif  // PGWARDEN_REMEDIATION_ATTRIBUTION_H_
