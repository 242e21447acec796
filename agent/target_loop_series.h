#ifndef PGWARDEN_AGENT_TARGET_LOOP_SERIES_H_
#define PGWARDEN_AGENT_TARGET_LOOP_SERIES_H_

#include <cstdint>

#include "absl/container/flat_hash_map.h"
#include "prometheus/counter.h"
#include "prometheus/gauge.h"

namespace pgwarden {

// TableSeries caches a table's metric handles so a tick does not rebuild
// label sets for thousands of tables.
struct TableSeries {
  prometheus::Gauge* rows = nullptr;
  prometheus::Counter* deleted = nullptr;
  prometheus::Counter* inserted = nullptr;
  prometheus::Gauge* score_rows = nullptr;
  prometheus::Gauge* score_delete_rate = nullptr;
  prometheus::Gauge* score_update_rate = nullptr;  // null unless update_rate is watched
  int64_t last_deleted = 0;
  int64_t last_inserted = 0;
};

// TargetLoopSeries is a target's metric handles (the loop's thread only).
struct TargetLoopSeries {
  absl::flat_hash_map<int64_t, TableSeries> tables;
  prometheus::Counter* commits = nullptr;
  prometheus::Counter* rollbacks = nullptr;
  prometheus::Gauge* rollback_score = nullptr;
  prometheus::Gauge* watched = nullptr;
  int64_t last_commit = -1;
  int64_t last_rollback = -1;
  prometheus::Counter* wal_archived = nullptr;
  prometheus::Counter* wal_archive_failures = nullptr;
  prometheus::Gauge* wal_archive_last_success = nullptr;
  prometheus::Gauge* wal_archive_enabled = nullptr;
  int64_t last_archived = 0;
  int64_t last_archive_failed = 0;
};

// Mirror follows a server's cumulative counter with a Prometheus counter:
// it adds the increments; after a reset, the new value is the increment.
inline void Mirror(prometheus::Counter* c, int64_t* last, int64_t now) {
  const int64_t delta = now >= *last ? now - *last : now;
  if (delta > 0) c->Increment(static_cast<double>(delta));
  *last = now;
}

}  // namespace pgwarden

#endif  // PGWARDEN_AGENT_TARGET_LOOP_SERIES_H_
