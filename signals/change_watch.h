#ifndef PGWARDEN_SIGNALS_CHANGE_WATCH_H_
#define PGWARDEN_SIGNALS_CHANGE_WATCH_H_

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/time/time.h"
#include "signals/churn.h"
#include "signals/table_watch.h"
#include "sources/table_changes.h"

namespace pgwarden {

// ChangeSource names where a ChangeWatch's changes come from.
enum class ChangeSource {
  // The change stream: every committed change, exact, at commit time.
  kStream,
  // pg_stat_statements on the fast tick: rows per role when each statement
  // ends (inserts are not all seen, so no level is kept).
  kStatements,
};

// ChangeSourceName returns "change_stream" or "statements".
const char* ChangeSourceName(ChangeSource source);

// XidSession is a client session seen holding a transaction id (from
// pg_stat_activity.backend_xid), so that a committed transaction of the
// stream can be traced back to who ran it.
struct XidSession {
  uint32_t xid = 0;
  int pid = 0;
  std::string role;
  std::string application;
  std::string client;
};

// ChangeWatchOptions tunes the commit-time signals.
struct ChangeWatchOptions {
  // rate_window: deletes are judged as a rate over this sliding window.
  absl::Duration rate_window = absl::Seconds(1);
  // min_event_spacing: a firing table emits at most one event of a kind per
  // spacing (the incident is updated, not flooded).
  absl::Duration min_event_spacing = absl::Seconds(1);
  // xid_memory: how long a seen xid is remembered for attribution.
  absl::Duration xid_memory = absl::Seconds(120);
  // max_xids: bound on the xids remembered.
  size_t max_xids = 100000;
};

// ChangeWatch turns changes reported at commit (or statement end) time into
// the same table signals TargetWatch computes from the statistics, seconds
// earlier: TRUNCATE at once, a delete-rate spike per table, and (from the
// stream, whose inserts and deletes are exact) row loss on the table's
// level. It follows the tables of the latest statistics snapshot (names,
// oids, sizes). Not thread-safe: used from the target's loop thread.
class ChangeWatch {
 public:
  ChangeWatch(ChangeSource source, DetectorFactories factories,
              TargetWatch::Silencer silencer = nullptr, ChangeWatchOptions options = {});

  ChangeSource source() const { return source_; }

  // SyncTables follows the watched tables of a statistics snapshot: new
  // tables start at its live rows, tables gone are forgotten.
  void SyncTables(const Snapshot& snap);
  // Rebaseline restarts every table's level from the last snapshot's live
  // rows (after a gap in the source).
  void Rebaseline();

  // ObserveSessions remembers which session held which xid.
  void ObserveSessions(absl::Time now, const std::vector<XidSession>& sessions);

  // AddTransactions consumes committed transactions of the stream;
  // AddChanges consumes statement changes. Either is followed by Evaluate.
  void AddTransactions(const std::vector<CommittedTxn>& txns);
  void AddChanges(const std::vector<TableChange>& changes);

  // Evaluate runs the detectors of every table at `now` and appends events.
  void Evaluate(absl::Time now, WatchResult* out);

  // delete_rate_score returns the delete-rate score of a table (0 if unknown).
  double delete_rate_score(int64_t oid) const;
  size_t tables() const { return tables_.size(); }

 private:
  // Commit is one committed change to a table, kept briefly so that the
  // first event of a drop can name the transactions that started it.
  struct Commit {
    uint32_t xid = 0;
    uint64_t lsn = 0;
    absl::Time time;
    int64_t deleted = 0;
    std::string role;
    int64_t evaluation = 0;  // the Evaluate call that first saw it
  };
  // Evidence is what a drop's events carry: it starts at the drop's first
  // event (with the commits of the rate window before it) and lasts until
  // the table has been quiet for a while.
  struct Evidence {
    bool active = false;
    std::vector<uint32_t> xids;  // first ones, bounded
    uint64_t first_lsn = 0;
    absl::Time first_time = absl::InfinitePast();
    std::map<std::string, int64_t> rows_by_role;
    int64_t deleted = 0;
  };
  struct State {
    std::string schema;
    std::string table;
    int64_t stats_rows = 0;  // live rows of the last snapshot
    double level = 0;
    int64_t pending_deleted = 0;
    int64_t pending_inserted = 0;
    bool pending_truncate = false;
    // Evaluations with deletes inside the rate window (vectors: a quiet table
    // allocates nothing).
    std::vector<std::pair<absl::Time, int64_t>> window;
    int64_t window_sum = 0;
    std::unique_ptr<Detector> rows;
    std::unique_ptr<Detector> delete_rate;
    double delete_rate_score = 0;
    std::vector<Commit> recent;  // the rate window's commits (bounded)
    Evidence evidence;
    absl::Time last_event_time = absl::InfinitePast();
    std::map<SignalKind, absl::Time> last_event;
    // Updates since the last evaluation (rows, and rows per role), the
    // update-rate tracker, and the latest session seen per updating role.
    int64_t pending_updated = 0;
    std::map<std::string, int64_t> pending_update_roles;
    std::unique_ptr<UpdateSpikeTracker> update_rate;
    std::map<std::string, XidSession> update_sessions;
    // churn is the table's usual churn (queue tables drop all day).
    ChurnBaseline churn;
  };
  State* Find(const std::string& schema, const std::string& table);
  void Record(State& st, const TableChange& change, const CommittedTxn* txn);
  static void AddEvidence(Evidence& ev, const Commit& c);
  // EmitTruncate pages a committed TRUNCATE and restarts the table's level.
  void EmitTruncate(int64_t oid, State& st, int64_t inserted, absl::Time now, WatchResult* out);
  // SlideWindow adds an evaluation's deletes to the rate window and returns
  // the delete rate per second over it.
  double SlideWindow(State& st, int64_t deleted, absl::Time now, double dt) const;
  void EvaluateTable(int64_t oid, State& st, absl::Time now, double dt, WatchResult* out);
  // RecordUpdates adds a change's updated rows (and their role) to `st`.
  void RecordUpdates(State& st, const TableChange& change, const CommittedTxn* txn) const;
  // EvaluateUpdates feeds a table's updates to its update-rate tracker and
  // emits an update_spike (with the roles as evidence) on a mass overwrite.
  void EvaluateUpdates(int64_t oid, State& st, absl::Time now, double dt, WatchResult* out);
  void Emit(State& st, SignalEvent ev, WatchResult* out);
  SignalEvent Event(SignalKind kind, int64_t oid, const State& st, absl::Time now) const;
  nlohmann::json EvidenceJson(const State& st) const;

  ChangeSource source_;
  DetectorFactories factories_;
  TargetWatch::Silencer silencer_;
  ChangeWatchOptions options_;
  absl::flat_hash_map<int64_t, State> tables_;
  std::map<std::pair<std::string, std::string>, int64_t> by_name_;
  absl::flat_hash_map<uint32_t, XidSession> xids_;
  std::deque<std::pair<absl::Time, uint32_t>> xid_order_;
  absl::Time last_eval_ = absl::InfinitePast();
  int64_t evaluations_ = 0;
};

}  // namespace pgwarden

#endif  // PGWARDEN_SIGNALS_CHANGE_WATCH_H_
