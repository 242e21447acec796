#ifndef PGWARDEN_FASTPATH_COMMIT_IN_STATEMENT_H_
#define PGWARDEN_FASTPATH_COMMIT_IN_STATEMENT_H_

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "pg/session.h"

namespace pgwarden {

// WatchedTable is one watched table with its n_live_tup from the latest
// statistics sample (which a statement that commits inside itself does not
// move until it returns).
struct WatchedTable {
  int64_t oid = 0;
  std::string schema;
  std::string table;
  int64_t live_rows = 0;
};

// CommitInStatementOptions tunes the watch.
struct CommitInStatementOptions {
  // Statements running for less than this are not looked at.
  absl::Duration min_duration = absl::Seconds(3);
  // Row-count probes per poll, and at most one per table per probe_spacing.
  int max_probes_per_poll = 4;
  absl::Duration probe_spacing = absl::Seconds(2);
  // statement_timeout (and lock_timeout) of one probe.
  absl::Duration probe_timeout = absl::Seconds(1);
  // Tables up to this many live rows are counted exactly, bigger ones
  // estimated from a TABLESAMPLE SYSTEM of about sample_rows rows.
  int64_t exact_count_rows = 1000000;
  int64_t sample_rows = 100000;
  // A probe this far below live_rows confirms a suspect: at least
  // min_drop_rows and min_drop_share of live_rows.
  int64_t min_drop_rows = 1000;
  double min_drop_share = 0.01;
  // Procedure bodies looked up per poll (to name the tables a CALL writes).
  int max_lookups_per_poll = 4;
  int max_query_chars = 1000;
};

// Suspect is a session whose one statement commits inside itself while a
// watched table it writes loses rows.
struct Suspect {
  int pid = 0;
  std::string role;
  std::string application;
  std::string client;  // client address, or "local"
  std::string query;   // truncated to max_query_chars
  double query_age_seconds = 0;
  int64_t oid = 0;
  std::string schema;
  std::string table;
  // xid_changes: transactions seen ending inside the statement (backend_xid
  // or xact_start changed between polls, or xact_start past query_start).
  int xid_changes = 0;
  int64_t rows_before = 0;     // live_rows of the statistics
  int64_t rows_now = 0;        // the probe
  bool sampled = false;        // rows_now is a TABLESAMPLE estimate
  double rows_per_second = 0;  // from the last two probes (0 with one)
};

// CommitInStatementStats counts the watch's work (for status and tests).
struct CommitInStatementStats {
  int64_t polls = 0;
  int64_t sessions_read = 0;  // rows of the last activity query
  int64_t probes = 0;
  int64_t probe_failures = 0;  // timeouts, missing privilege, ...
  int64_t lookups = 0;
};

// CommitInStatementWatch finds client backends whose current statement (a
// CALL of a procedure that COMMITs, a DO block) has run longer than
// min_duration and commits inside itself, and confirms with a bounded probe
// of a watched table's real row count that the table is losing rows the
// statistics do not show yet.
//
// Each poll runs one query over pg_stat_activity joined with pg_locks (one
// row per active client backend older than min_duration) and remembers per
// (pid, query_start) the backend_xid and xact_start: a change of either
// between polls for the same statement, or an xact_start later than
// query_start (PostgreSQL advances it at each COMMIT inside a procedure),
// means the statement committed inside itself. Its tables are the watched
// ones it holds a write lock on (RowExclusiveLock or stronger) when seen,
// plus those its text names: a DO block's body, or the body of the
// procedure a CALL names (pg_proc.prosrc, looked up once per statement;
// dynamic SQL is not seen). Between a COMMIT and the next write a procedure
// holds no lock and no xid, so the text is what names the table of a purge
// that sleeps after each COMMIT.
//
// A probe is SELECT count(*) (or a scaled TABLESAMPLE SYSTEM count) run
// through Session::Execute under probe_timeout, identifiers quoted; at most
// max_probes_per_poll per poll and one per table per probe_spacing (a
// recent probe is reused). A suspect is returned on every poll while its
// statement runs and the last probe is below live_rows by the threshold.
// Sessions whose statement ended are forgotten. Not thread-safe.
class CommitInStatementWatch {
 public:
  explicit CommitInStatementWatch(CommitInStatementOptions options = {});

  // Poll returns this poll's suspects. Errors are those of the activity
  // query; a failed probe or lookup is counted, not returned.
  absl::StatusOr<std::vector<Suspect>> Poll(pg::Session& conn,
                                            const std::vector<WatchedTable>& watched,
                                            absl::Time now);

  // tracked returns how many statements are remembered.
  size_t tracked() const { return states_.size(); }
  const CommitInStatementStats& stats() const { return stats_; }

 private:
  using Key = std::pair<int, std::string>;  // pid, query_start
  struct State {
    Suspect info;
    std::string last_xid;
    std::string last_xact_start;
    int changes = 0;
    std::set<int64_t> tables;  // watched oids it wrote or names
    bool looked_up = false;    // text and procedure body read
  };
  struct Probe {
    absl::Time at = absl::InfinitePast();
    bool ok = false;
    int64_t rows = 0;
    bool sampled = false;
    double rows_per_second = 0;
  };
  absl::Status ReadSessions(pg::Session& conn, const std::vector<WatchedTable>& watched);
  // LookUpTables adds the watched tables the statement's text (or the
  // called procedure's body) writes.
  void LookUpTables(pg::Session& conn, const std::vector<WatchedTable>& watched, State* state);
  // ProbeTable returns the table's probe, taking a new one if allowed.
  const Probe& ProbeTable(pg::Session& conn, const WatchedTable& table, absl::Time now,
                          int* probes_left);

  CommitInStatementOptions options_;
  std::map<Key, State> states_;
  std::map<int64_t, Probe> probes_;  // by oid
  CommitInStatementStats stats_;
};

}  // namespace pgwarden

#endif  // PGWARDEN_FASTPATH_COMMIT_IN_STATEMENT_H_
