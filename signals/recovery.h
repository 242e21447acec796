#ifndef PGWARDEN_SIGNALS_RECOVERY_H_
#define PGWARDEN_SIGNALS_RECOVERY_H_

#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/time/time.h"
#include "absl/types/optional.h"
#include "nlohmann/json.hpp"
#include "signals/signal_event.h"
#include "sources/pg_sampler.h"
#include "sources/table_changes.h"

namespace pgwarden {

// RecoveryPoint is where a point-in-time restore must stop to leave an
// incident's damage out: restoring with recovery_target_lsn = lsn and
// recovery_target_inclusive = off replays every record before lsn.
struct RecoveryPoint {
  uint64_t lsn = 0;
  // time: when the first destructive transaction committed (exact), or when
  // the WAL was at lsn (a bound), on the server's clock.
  absl::Time time = absl::InfinitePast();
  uint32_t xid = 0;  // the first destructive transaction; 0 when unknown
  // exact: lsn is just before the first destructive commit (the change
  // stream saw it). Otherwise lsn is a bound: a WAL position read at a tick
  // when the statistics still showed the table intact, taken early enough
  // to cover the statistics' publication delay.
  bool exact = false;
  std::string basis;  // "change_stream", "statistics" or "in_flight"
  std::string note;   // why a bound is weaker than usual, if it is

  // ToJson: target_lsn, target_time, first_destructive_xid (null when
  // unknown), exact, basis and note (when set).
  nlohmann::json ToJson() const;
};

// EarlierRecovery is true when recovery point `a` (ToJson form) stops
// earlier in the WAL than `b`, or `b` is not a recovery point.
bool EarlierRecovery(const nlohmann::json& a, const nlohmann::json& b);

struct RecoveryOptions {
  // ring_age: how long the (time, LSN) ring of ticks reaches back.
  absl::Duration ring_age = absl::Minutes(30);
  // stats_lag: how long before a tick that showed a table intact the bound
  // is taken. PostgreSQL 15 publishes a busy backend's counters at most
  // every second and an idle one's within 10 s.
  absl::Duration stats_lag = absl::Seconds(11);
  // ddl_lookback: how far back a committed destructive DDL may lie when it
  // is found (the catalog is fingerprinted every few ticks).
  absl::Duration ddl_lookback = absl::Seconds(6);
  // burst_gap: destructive transactions on a table closer than this in
  // commit time are one burst; the first of the burst is the first
  // destructive transaction.
  absl::Duration burst_gap = absl::Seconds(5);
  // max_txns: destructive transactions remembered per table; max_moves:
  // ticks beyond the usual change remembered per table.
  size_t max_txns = 1024;
  size_t max_moves = 256;
};

// RecoveryTracker keeps what it takes to name the recovery point of a
// destructive signal: a ring of (tick time, server time, WAL LSN); per
// table the ticks at which its counters moved beyond their usual change;
// with the change stream, per table the recent transactions that deleted,
// updated or truncated rows. The first destructive transaction (or tick) is
// found by walking back from the newest until the rows they removed cover
// the rows the signal says were lost, and the burst they belong to has
// begun (a gap of burst_gap). Memory: one ring entry per tick, one small
// state per table, plus max_moves / max_txns entries per table that had
// them. Not thread-safe (the target loop's thread).
class RecoveryTracker {
 public:
  explicit RecoveryTracker(RecoveryOptions options = {}) : options_(options) {}

  // ObserveSample records a tick: its WAL position, and for each table
  // whether its counters moved beyond their usual per-tick change.
  void ObserveSample(const Snapshot& snap);
  // ObserveTxns records the destructive transactions of the change stream.
  void ObserveTxns(const std::vector<CommittedTxn>& txns);
  // StreamGap forgets the stream's transactions (changes were missed).
  void StreamGap() { txns_.clear(); }

  // For is the recovery point of a destructive event (null for other kinds,
  // or before the first tick).
  absl::optional<RecoveryPoint> For(const SignalEvent& ev) const;
  // Annotate sets figures["recovery"] on the destructive events (adding
  // `archive`, the WAL archive's health, when not null); a coverage gap
  // among them is applied first.
  void Annotate(std::vector<SignalEvent>* events, const nlohmann::json& archive);

 private:
  struct Tick {
    absl::Time time;         // agent clock
    absl::Time server_time;  // server clock
    uint64_t lsn = 0;
  };
  // Move is a tick at which a table's counters moved beyond their usual
  // per-tick change (or its file was rewritten: TRUNCATE).
  struct Move {
    absl::Time time;
    int64_t deleted = 0;
    int64_t updated = 0;
    bool rewritten = false;
  };
  struct TableState {
    int64_t deleted = -1;
    int64_t updated = -1;
    int64_t relfilenode = 0;
    int64_t live = 0;
    double usual_deleted = 0;  // mean per-tick change of the usual ticks
    double usual_updated = 0;
    // oldest first, at most max_moves (a vector: an empty deque allocates,
    // and every table has one)
    std::vector<Move> moves;
    bool forgot = false;  // older moves were dropped
    absl::Time seen = absl::InfinitePast();
  };
  struct Txn {
    uint32_t xid = 0;
    uint64_t lsn = 0;  // its last change
    absl::Time commit_time;
    int64_t deleted = 0;
    int64_t updated = 0;
    bool truncated = false;
  };
  struct TableTxns {
    std::vector<Txn> txns;  // oldest first, at most max_txns
    bool forgot = false;
  };

  absl::optional<RecoveryPoint> FromStream(const std::string& table, bool updates,
                                           int64_t rows) const;
  // FromTicks is the bound for damage first seen in the statistics at
  // `first_seen`: the WAL position of a tick at least stats_lag before the
  // tick preceding it.
  RecoveryPoint FromTicks(absl::Time first_seen, std::string note) const;

  RecoveryOptions options_;
  std::deque<Tick> ring_;
  absl::flat_hash_map<std::string, TableState> tables_;  // by "schema.table"
  absl::flat_hash_map<std::string, TableTxns> txns_;
};

}  // namespace pgwarden

#endif  // PGWARDEN_SIGNALS_RECOVERY_H_
