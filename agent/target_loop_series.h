#ifndef PGWARDEN_AGENT_TARGET_LOOP_SERIES_H_
#define PGWARDEN_AGENT_TARGET_LOOP_SERIES_H_

#include <cstdint>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/time/time.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"

namespace pgwarden {

// TableSeries is a table's exported series: the label text they share
// (rendered once) and the counters that follow the server's.
struct TableSeries {
  std::string prefix;  // {environment=...,schema=...,table=...,target=...
  double deleted = 0;
  double inserted = 0;
  int64_t last_deleted = 0;
  int64_t last_inserted = 0;
  // pinned_until: a signal named the table; exported until then whatever
  // metrics.per_table says.
  absl::Time pinned_until = absl::InfinitePast();
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

// Drop removes the series of `family` with `labels` (if any).
template <typename T>
void Drop(prometheus::Family<T>& family, const prometheus::Labels& labels) {
  family.Remove(&family.Add(labels));
}

// MirrorValue follows a server's cumulative counter `now` with `value`
// (increments added; after a reset, the new value is the increment).
inline void MirrorValue(double* value, int64_t* last, int64_t now) {
  const int64_t delta = now >= *last ? now - *last : now;
  if (delta > 0) *value += static_cast<double>(delta);
  *last = now;
}

// Mirror follows a server's cumulative counter with a Prometheus counter:
// it adds the increments; after a reset, the new value is the increment.
inline void Mirror(prometheus::Counter* c, int64_t* last, int64_t now) {
  const int64_t delta = now >= *last ? now - *last : now;
  if (delta > 0) c->Increment(static_cast<double>(delta));
  *last = now;
}

}  // namespace pgwarden

#endif  // PGWARDEN_AGENT_TARGET_LOOP_SERIES_H_
