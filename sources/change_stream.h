#ifndef PGWARDEN_SOURCES_CHANGE_STREAM_H_
#define PGWARDEN_SOURCES_CHANGE_STREAM_H_

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "core/clock.h"
#include "sources/row_journal.h"
#include "sources/table_changes.h"
#include "sources/test_decoding.h"

namespace pgwarden {

// ChangeStreamOptions configures one target's change stream.
struct ChangeStreamOptions {
  std::string target;
  std::string dsn;
  std::string slot = "pgwarden";
  // Create the slot even though max_slot_wal_keep_size = -1 (a slot nobody
  // reads then keeps WAL until the disk fills).
  bool allow_unbounded_retention = false;
  // state_dir holds change_stream_<target>.json (counters, last commit).
  std::string state_dir;
  // audit_path: the remediation audit log, for slot creation and drop
  // records ("" = not audited).
  std::string audit_path;
  absl::Duration connect_timeout = absl::Seconds(5);
  // status_interval: how often the position is persisted and confirmed.
  absl::Duration status_interval = absl::Seconds(1);
  absl::Duration max_backoff = absl::Seconds(10);
  // refusal_recheck: how long a refused stream waits before checking again.
  absl::Duration refusal_recheck = absl::Seconds(30);
  // watched selects tables (null: all tables).
  WatchFilter watched;
  // on_data is called (from the stream's thread) when transactions are
  // queued; it must not block.
  std::function<void()> on_data;
  // max_queue bounds the transactions waiting for Drain; on overflow the
  // oldest is dropped and counted.
  size_t max_queue = 100000;
  // journal: when journal.dir is set, the old rows of committed DELETEs on
  // watched tables are kept in a RowJournal there (REPLICA IDENTITY FULL
  // tables give whole rows; others only their key).
  JournalOptions journal;
  const Clock* clock = RealClock::Get();
};

// ChangeCounts are cumulative over the stream's life, across restarts
// (persisted with the position, so each committed transaction is counted
// exactly once).
struct ChangeCounts {
  // transactions that touched a watched table, and their rows.
  int64_t transactions = 0;
  int64_t inserted = 0;
  int64_t updated = 0;
  int64_t deleted = 0;
  int64_t truncates = 0;
  // Degraded paths: malformed lines skipped, transactions dropped from a
  // full queue, transactions sent again by the server and skipped.
  int64_t malformed_lines = 0;
  int64_t dropped_txns = 0;
  int64_t duplicates_skipped = 0;
};

// CoverageGap is a stretch of changes the stream did not see: its slot was
// invalidated (or had disappeared) and was created anew.
struct CoverageGap {
  absl::Time time;
  std::string slot;
  std::string reason;
};

// ChangeStreamStatus is the stream's state for metrics and `check`.
struct ChangeStreamStatus {
  // state: "connecting", "streaming", "refused", "error" or "stopped".
  std::string state = "connecting";
  bool up = false;
  std::string slot;
  std::string last_error;
  uint64_t confirmed_lsn = 0;
  int64_t lag_bytes = 0;
  int64_t retained_bytes = 0;
  std::string wal_status;
};

// ChangeStream reads committed changes from a logical replication slot
// (plugin test_decoding) on its own thread: it checks the prerequisites,
// creates the slot if needed (audited; refused while WAL retention is
// unbounded unless allowed), decodes the stream, keeps watched tables'
// changes, queues each committed transaction for Drain, persists its
// counters and position before confirming it to the server, and reconnects
// with capped exponential backoff. Thread-safe.
class ChangeStream {
 public:
  explicit ChangeStream(ChangeStreamOptions options);
  ~ChangeStream();
  ChangeStream(const ChangeStream&) = delete;
  ChangeStream& operator=(const ChangeStream&) = delete;

  // Start loads the persisted state and starts the thread.
  void Start();
  // Stop persists and confirms what was accounted, then ends the thread
  // (within about a second).
  void Stop();

  // Drain returns the queued transactions, oldest first.
  std::vector<CommittedTxn> Drain();
  // DrainGaps returns the coverage gaps found since the last call.
  std::vector<CoverageGap> DrainGaps();
  ChangeCounts counts() const;
  // JournalStats: the row journal's size and the rows its bounds dropped.
  struct JournalStats {
    uint64_t bytes = 0;
    int64_t rows = 0;
    int64_t dropped = 0;
    int64_t errors = 0;
  };
  JournalStats journal_stats() const {
    absl::MutexLock lock(&mu_);
    return journal_stats_;
  }
  ChangeStreamStatus status() const;

  // StatePath is state_dir/change_stream_<target>.json.
  std::string StatePath() const;

  // CrashPoint simulates a crash for tests: the thread ends at its next
  // persist step without persisting (kBeforePersist) or after persisting
  // but before confirming to the server (kAfterPersist), and Stop then
  // skips the final persist.
  enum class CrashPoint { kNone, kBeforePersist, kAfterPersist };
  void CrashForTesting(CrashPoint point) { crash_.store(point); }

 private:
  class Attempt;
  friend class Attempt;

  void Run();
  bool Wait(absl::Duration d) { return stop_.WaitForNotificationWithTimeout(d); }
  void SetState(const std::string& state, const std::string& error);
  absl::Status LoadState();
  absl::Status PersistState() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Account counts and queues one committed transaction; false if it was
  // already accounted (a duplicate).
  bool Account(CommittedTxn txn);
  void AddGap(const std::string& reason);

  const ChangeStreamOptions options_;
  std::thread thread_;
  absl::Notification stop_;
  std::atomic<CrashPoint> crash_{CrashPoint::kNone};
  std::atomic<bool> crashed_{false};

  mutable absl::Mutex mu_;
  ChangeCounts counts_ ABSL_GUARDED_BY(mu_);
  // journal_ is used on the stream's thread only; its figures are copied
  // under mu_ for JournalStats.
  std::unique_ptr<RowJournal> journal_;
  JournalStats journal_stats_ ABSL_GUARDED_BY(mu_);
  // accounted_lsn: commit LSN of the last transaction counted (in memory);
  // persisted_lsn: the one in the state file.
  uint64_t accounted_lsn_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t persisted_lsn_ ABSL_GUARDED_BY(mu_) = 0;
  bool dirty_ ABSL_GUARDED_BY(mu_) = false;
  std::string system_id_ ABSL_GUARDED_BY(mu_);
  std::deque<CommittedTxn> queue_ ABSL_GUARDED_BY(mu_);
  std::vector<CoverageGap> gaps_ ABSL_GUARDED_BY(mu_);
  ChangeStreamStatus status_ ABSL_GUARDED_BY(mu_);
};

}  // namespace pgwarden

#endif  // PGWARDEN_SOURCES_CHANGE_STREAM_H_
