#ifndef PGWARDEN_AGENT_TARGET_LOOP_H_
#define PGWARDEN_AGENT_TARGET_LOOP_H_

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "agent/config.h"
#include "agent/fast_path.h"
#include "agent/responder.h"
#include "agent/row_history.h"
#include "core/clock.h"
#include "exporters/agent_metrics.h"
#include "incidents/manager.h"
#include "nlohmann/json.hpp"
#include "signals/ddl_log.h"
#include "signals/ddl_watch.h"
#include "signals/partitions.h"
#include "signals/recovery.h"
#include "signals/table_watch.h"
#include "signals/wal_archive.h"
#include "sources/catalog_fingerprint.h"
#include "sources/pg_sampler.h"
#include "sources/server_log.h"

namespace pgwarden {

struct TargetLoopSeries;

// SuppressedReasonLabel is the `reason` label of
// pgwarden_signals_suppressed_total for a suppression reason: "maintenance"
// for any window, otherwise the reason up to its figures, spaces as '_'
// ("normal churn (drop 40 rows, ...)" -> "normal_churn").
std::string SuppressedReasonLabel(absl::string_view reason);

// TargetLoop samples one target on every tick on its own thread, feeds the
// TargetWatch, publishes metrics and hands events to the incident manager.
// When the database is unreachable it sets pgwarden_up to 0 and retries with
// capped exponential backoff; it never exits on its own.
class TargetLoop {
 public:
  TargetLoop(const LiveConfig& config, const TargetConfig& target,
             const DetectorFactories& factories, AgentMetrics* metrics, IncidentManager* incidents,
             prometheus::Registry* registry, Clock* clock, Degraded* degraded = nullptr);
  ~TargetLoop();

  void Start();
  void Stop();
  nlohmann::json StatusJson() const;
  // DatabaseGone pages the loss of the loop's database once (if it was ever
  // sampled and not yet paged); call after Stop.
  void DatabaseGone();
  // RemoveSeries removes the target's series; call after Stop.
  void RemoveSeries();
  // name is the target's id.
  const std::string& name() const { return target_.name; }
  // SetFilter applies a reloaded config's `tables` include/exclude at the
  // next statistics tick, keeping every other state.
  void SetFilter(const TargetConfig& next);
  // configured is the target's config as last set (for a reload's diff).
  TargetConfig configured() const;
  // alive is false if the loop thread has not completed a pass recently.
  bool alive(absl::Time now) const;

 private:
  void Run();
  // ApplyFilter installs a filter SetFilter left (loop thread).
  void ApplyFilter();
  // RunOnce is the full tick: a statistics sample, then what the fast tick
  // does. FastOnce is the fast tick alone, on the same session; with
  // `stream_only`, only the change stream's part (woken by a commit).
  void RunOnce();
  void FastOnce(bool stream_only);
  // Handle attributes, pages and answers what a tick found.
  void Handle(WatchResult& result);
  TargetWatch::Silencer MaintenanceSilencer();
  void PublishTables(const WatchResult& result);
  // ScoreLabels are a target-wide anomaly score's labels (schema, table "").
  prometheus::Labels ScoreLabels(const std::string& signal) const;
  // PublishDatabase sets the target's database and WAL archive series.
  void PublishDatabase(const Snapshot& snap);
  // PollServerLog reads new failed logins and logged schema changes from the
  // server log, if configured.
  void PollServerLog(absl::Time now, const std::string& database, WatchResult* result);
  // CheckDdl compares the watched tables' catalog fingerprint every
  // kFingerprintEvery statistics ticks, and groups the drop_table events of
  // tables whose schema vanished into one destructive_ddl.
  void CheckDdl(const Snapshot& snap, WatchResult* result);
  // CheckDatabaseDropped pages once when a connect error says the watched
  // database does not exist.
  void CheckDatabaseDropped(const std::string& message);
  // EmitDdl adds a destructive_ddl event to `result`, naming its role from
  // the server log when it logged the statement, or to its suppressed list
  // inside a maintenance window or when that role is an allowed one.
  void EmitDdl(SignalEvent ev, WatchResult* result);
  // RecordHistory adds the sample's row counts of the tables in this
  // target's open or recent incidents to the status page's history.
  void RecordHistory(const Snapshot& snap);
  // Follow hands a re-read table list to the fast path and the session guard.
  void Follow(const Snapshot& snap);

  const LiveConfig& config_;
  const TargetConfig target_;
  AgentMetrics* metrics_;
  IncidentManager* incidents_;
  Clock* clock_;
  PgSampler sampler_;
  TargetWatch watch_;
  FastPath fast_;
  Responder responder_;
  std::vector<TableRef> watched_;              // of the last snapshot
  std::unique_ptr<ServerLogTail> server_log_;  // null unless target.server_log
  std::string server_log_error_;
  std::unique_ptr<CatalogFingerprint> fingerprint_;  // of the last DDL check
  int ticks_to_fingerprint_ = 0;
  bool catalog_moved_ = true;  // since the last fingerprint (Snapshot::database_changed)
  // A logged schema change naming a watched table: the fingerprint is read at
  // this many next ticks (the statement may still wait for its lock).
  int logged_ddl_rechecks_ = 0;
  DdlLog ddl_log_;
  PartitionMap partitions_;  // partitions roll up to their partitioned table
  std::string database_;     // of the last snapshot
  bool database_missing_paged_ = false;
  prometheus::Gauge& up_;
  prometheus::Histogram& duration_;
  RecoveryTracker recovery_;  // the recovery point of destructive signals
  WalArchiveWatch archive_;

  std::thread thread_;
  // mu_ wakes the loop thread when Stop() is called.
  absl::Mutex mu_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::optional<TableFilter> pending_filter_ ABSL_GUARDED_BY(mu_);
  // wake_ is set by the change stream when committed changes are waiting.
  bool wake_ ABSL_GUARDED_BY(mu_) = false;

  // status_mu_ guards what StatusJson reads; held only to copy fields.
  mutable absl::Mutex status_mu_;
  bool connected_ ABSL_GUARDED_BY(status_mu_) = false;
  TargetConfig configured_ ABSL_GUARDED_BY(status_mu_);
  std::string last_error_ ABSL_GUARDED_BY(status_mu_);
  absl::Time last_success_ ABSL_GUARDED_BY(status_mu_) = absl::InfinitePast();
  std::atomic<int64_t> last_pass_unix_ms_{0};
  int64_t tables_watched_ ABSL_GUARDED_BY(status_mu_) = 0;
  nlohmann::json archive_health_ ABSL_GUARDED_BY(status_mu_);
  RowHistory history_ ABSL_GUARDED_BY(status_mu_);
  absl::Duration backoff_;
  std::unique_ptr<TargetLoopSeries> series_;  // metric handles, loop thread only
};

}  // namespace pgwarden

#endif  // PGWARDEN_AGENT_TARGET_LOOP_H_
