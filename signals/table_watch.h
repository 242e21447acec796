#ifndef PGWARDEN_SIGNALS_TABLE_WATCH_H_
#define PGWARDEN_SIGNALS_TABLE_WATCH_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/time/time.h"
#include "alerting/alert.h"
#include "detectors/detector.h"
#include "nlohmann/json.hpp"
#include "signals/churn.h"
#include "signals/signal_event.h"
#include "signals/update_spike.h"
#include "sources/pg_sampler.h"
#include "sources/server_log.h"

namespace pgwarden {

// DetectorFactories are the per-signal detector factories of a target.
struct DetectorFactories {
  std::shared_ptr<const DetectorFactory> rows;
  std::shared_ptr<const DetectorFactory> delete_rate;
  std::shared_ptr<const DetectorFactory> rollback_ratio;
  std::shared_ptr<const DetectorFactory> failed_logins;
  // update_rate: rows updated per second per table (null: no update_spike);
  // update_gate: the share and ratio a burst needs to page.
  std::shared_ptr<const DetectorFactory> update_rate;
  UpdateGate update_gate;
};

// WatchResult is what one snapshot produced.
struct WatchResult {
  std::vector<SignalEvent> events;
  // Events a maintenance window or allow-list silenced, and detector alerts
  // not confirmed by the row counts (e.g. a rolled-back mass DELETE).
  std::vector<std::pair<SignalEvent, std::string>> suppressed;
  // Tables no longer watched (dropped or renamed away): remove their series.
  std::vector<std::pair<std::string, std::string>> removed;
  // counter_resets counts tables (and the database) whose counters went
  // backwards (stats reset, crash recovery): re-baselined, not paged.
  int counter_resets = 0;
};

// TableState is the per-table streaming state; O(1) per table.
struct TableState {
  TableStat last;
  absl::Time last_time;
  // level is the row count fed to the level detector: it follows n_live_tup
  // but never falls by more than the deletes counted in the same interval,
  // so re-estimates by ANALYZE/VACUUM are not mistaken for lost rows.
  double level = 0;
  std::unique_ptr<Detector> rows;
  std::unique_ptr<Detector> delete_rate;
  double rows_score = 0;
  double delete_rate_score = 0;
  // update_rate follows n_tup_upd (mass overwrites); null when not watched.
  std::unique_ptr<UpdateSpikeTracker> update_rate;
  // churn is the table's usual churn (queue tables drop all day).
  ChurnBaseline churn;
};

// TargetWatch turns a target's consecutive snapshots into signals: counter
// deltas with reset handling, level-drop and delete-rate detectors per table,
// TRUNCATE (relfilenode change with rows gone) and DROP (oid gone) as
// immediate critical events, and the rollback ratio of the database.
class TargetWatch {
 public:
  // Silencer returns a non-empty reason when an event on schema.table at time
  // t must not page (maintenance window); schema/table empty = database.
  using Silencer =
      std::function<std::string(const std::string& schema, const std::string& table, absl::Time t)>;

  TargetWatch(DetectorFactories factories, Silencer silencer = nullptr);

  // Process consumes the next snapshot of the target.
  WatchResult Process(const Snapshot& snap);

  // tables exposes the per-table state (for metrics and the status page).
  const absl::flat_hash_map<int64_t, TableState>& tables() const { return tables_; }
  double rollback_ratio_score() const { return rollback_score_; }
  // Forget drops a table's state: the next snapshot starts it afresh, as a
  // new table (a partition detached into a table of its own).
  void Forget(int64_t oid) { tables_.erase(oid); }

  // ProcessLogins consumes what one poll of the server log found (the
  // failures since the previous poll) and fires on a storm of failed logins.
  void ProcessLogins(absl::Time now, const std::string& database, const LoginFailures& failures,
                     WatchResult* out);
  double failed_logins_score() const { return logins_score_; }

 private:
  void ProcessTable(const TableStat& stat, absl::Time now, WatchResult* out);
  // UpdateTableDetectors feeds a table's change since `prev` (dt seconds ago)
  // to its level and delete-rate detectors and emits their alerts.
  void UpdateTableDetectors(TableState& st, const TableStat& prev, const TableStat& stat,
                            absl::Time now, double dt, WatchResult* out);
  // DetectOverwrite feeds a table's updates since `prev` to its update-rate
  // tracker and emits an update_spike when a burst rewrites the table.
  void DetectOverwrite(TableState& st, const TableStat& prev, const TableStat& stat, absl::Time now,
                       double dt, WatchResult* out);
  void ProcessDatabase(const Snapshot& snap, WatchResult* out);
  void Emit(SignalEvent ev, WatchResult* out);

  DetectorFactories factories_;
  Silencer silencer_;
  absl::flat_hash_map<int64_t, TableState> tables_;
  bool have_db_ = false;
  DatabaseStat last_db_;
  std::unique_ptr<Detector> rollback_;
  double rollback_score_ = 0;
  std::unique_ptr<Detector> logins_;
  double logins_score_ = 0;
  absl::Time logins_last_ = absl::InfinitePast();
};

// EmitUnlessSilenced appends `ev` to out->events, or to out->suppressed with
// the silencer's reason when it has one (a null silencer silences nothing).
void EmitUnlessSilenced(const TargetWatch::Silencer& silencer, SignalEvent ev, WatchResult* out);

// FormatCount renders 1234567 as "1,234,567".
std::string FormatCount(int64_t n);

}  // namespace pgwarden

#endif  // PGWARDEN_SIGNALS_TABLE_WATCH_H_
