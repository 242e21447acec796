#ifndef PGWARDEN_AGENT_FAST_PATH_H_
#define PGWARDEN_AGENT_FAST_PATH_H_

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "agent/config.h"
#include "core/clock.h"
#include "exporters/agent_metrics.h"
#include "fastpath/commit_in_statement.h"
#include "fastpath/statement_counters.h"
#include "nlohmann/json.hpp"
#include "pg/session.h"
#include "signals/change_watch.h"
#include "signals/recovery.h"
#include "signals/table_watch.h"
#include "sources/change_stream.h"
#include "sources/pg_sampler.h"

namespace pgwarden {

// FastPath is what a target sees between statistics samples, on the fast
// tick: committed changes from the change stream when it streams, otherwise
// the statement counters, plus the sessions whose xid shows who committed
// what. It runs on the target's loop thread, on the sampler's session.
class FastPath {
 public:
  FastPath(const LiveConfig& config, const TargetConfig& target, const DetectorFactories& factories,
           const TargetWatch::Silencer& silencer, AgentMetrics* metrics, Clock* clock);
  ~FastPath();
  FastPath(const FastPath&) = delete;
  FastPath& operator=(const FastPath&) = delete;

  // Start starts the change stream (if enabled); `wake` is called from its
  // thread when committed transactions are waiting.
  void Start(std::function<void()> wake);
  void Stop();
  // RemoveSeries removes the target's series (its database is gone).
  void RemoveSeries();

  // Sync follows the tables of the latest statistics snapshot.
  void Sync(const Snapshot& snap);
  // Tick runs one fast pass and appends what fired to `out`.
  // With `stream_only` (woken by the change stream between fast ticks) only
  // the committed transactions waiting are evaluated.
  void Tick(pg::Session& conn, absl::Time now, WatchResult* out, bool stream_only = false);
  // StatusJson lists the target's paths and their state, for /status.
  nlohmann::json StatusJson() const;
  // SetFilter replaces the table filter the change stream decodes through
  // (a reloaded config).
  void SetFilter(TableFilter filter);
  // set_recovery: the change stream's committed transactions are also
  // handed to `recovery` (the loop's thread; may be null).
  void set_recovery(RecoveryTracker* recovery) { recovery_ = recovery; }

 private:
  // ObserveXids records which session holds which xid (pg_stat_activity).
  void ObserveXids(pg::Session& conn, absl::Time now);
  // PollStream drains the change stream into its watch and publishes its
  // metrics; true while it streams.
  // `observe`: also read which sessions hold which xid (fast ticks only).
  bool PollStream(pg::Session& conn, absl::Time now, WatchResult* out, bool observe);
  // PollStatements feeds the statement counters' changes to their watch.
  void PollStatements(pg::Session& conn, absl::Time now, WatchResult* out);
  // PollSuspects pages sessions committing inside one statement whose
  // table's probed row count fell.
  void PollSuspects(pg::Session& conn, absl::Time now, WatchResult* out);
  // BuildStatus lists the paths and their state (loop thread).
  nlohmann::json BuildStatus() const;
  // Warn logs a source's error once per distinct message.
  void Warn(const std::string& source, const absl::Status& status);

  // SharedFilter is read by the change stream's thread, replaced by the
  // loop's.
  class SharedFilter {
   public:
    explicit SharedFilter(TableFilter f) : filter_(std::move(f)) {}
    bool Matches(const std::string& schema, const std::string& table) const {
      absl::MutexLock lock(&mu_);
      return filter_.Matches(schema, table);
    }
    void Set(TableFilter f) {
      absl::MutexLock lock(&mu_);
      filter_ = std::move(f);
    }

   private:
    mutable absl::Mutex mu_;
    TableFilter filter_ ABSL_GUARDED_BY(mu_);
  };

  const LiveConfig& config_;
  TargetConfig target_;
  std::shared_ptr<SharedFilter> filter_;
  AgentMetrics* metrics_;
  Clock* clock_;
  ChangeWatch stream_watch_;
  ChangeWatch statement_watch_;
  prometheus::Histogram& duration_;
  std::unique_ptr<ChangeStream> stream_;  // null unless change_stream.enabled
  bool streaming_ = false;
  RecoveryTracker* recovery_ = nullptr;
  ChangeCounts published_;  // what the changes counters show
  ChangeStream::JournalStats journal_published_;
  std::string stream_state_;
  StatementCounters counters_;
  CommitInStatementWatch calls_;
  std::vector<WatchedTable> watched_;
  // Last suspect event per (pid, table oid), to page at most once a second.
  std::map<std::pair<int, int64_t>, absl::Time> suspect_paged_;
  std::map<std::string, std::string> errors_;  // last error per source
  // status_ is what StatusJson returns, rebuilt by the loop thread.
  mutable absl::Mutex status_mu_;
  nlohmann::json status_ ABSL_GUARDED_BY(status_mu_) = nlohmann::json::array();
};

}  // namespace pgwarden

#endif  // PGWARDEN_AGENT_FAST_PATH_H_
