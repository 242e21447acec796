#ifndef PGWARDEN_EXPORTERS_AGENT_METRICS_H_
#define PGWARDEN_EXPORTERS_AGENT_METRICS_H_

#include <string>

#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

namespace pgwarden {

class Exposition;

// AgentMetrics owns the agent's own metric families (PRODUCT.md names), each
// carrying the constant label `environment`. Families are thread-safe; a
// scrape reads them without touching the database.
class AgentMetrics {
 public:
  AgentMetrics(prometheus::Registry& registry, const std::string& environment);

  // ConstLabels is {environment=...}, for components registering their own
  // families in the same registry.
  const prometheus::Labels& ConstLabels() const { return const_labels_; }

  prometheus::Family<prometheus::Gauge>& up;  // {target}
  // anomaly_score: the target-wide scores; per-table ones and the per-table
  // families pgwarden_table_rows, _rows_deleted_total, _rows_inserted_total
  // are rendered by exporters/exposition.h.
  prometheus::Family<prometheus::Gauge>& anomaly_score;             // {target,signal,schema,table}
  prometheus::Family<prometheus::Counter>& incidents;               // {target,kind}
  prometheus::Family<prometheus::Gauge>& incident_active;           // {target,kind}
  prometheus::Family<prometheus::Histogram>& sample_duration;       // {target}
  prometheus::Family<prometheus::Counter>& sample_errors;           // {target,reason}
  prometheus::Family<prometheus::Counter>& xact_commit;             // {target}
  prometheus::Family<prometheus::Counter>& xact_rollback;           // {target}
  prometheus::Family<prometheus::Counter>& failed_logins;           // {target,reason}
  prometheus::Family<prometheus::Gauge>& tables_watched;            // {target}
  prometheus::Family<prometheus::Counter>& wal_archived;            // {target}
  prometheus::Family<prometheus::Counter>& wal_archive_failures;    // {target}
  prometheus::Family<prometheus::Gauge>& wal_archive_last_success;  // {target}
  prometheus::Family<prometheus::Gauge>& wal_archive_enabled;       // {target}
  prometheus::Family<prometheus::Gauge>& journal_bytes;             // {target}
  prometheus::Family<prometheus::Counter>& journal_rows;            // {target}
  prometheus::Family<prometheus::Counter>& journal_dropped;         // {target}
  prometheus::Family<prometheus::Counter>& suppressed;              // {target,reason}
  prometheus::Family<prometheus::Gauge>& change_stream_up;          // {target}
  prometheus::Family<prometheus::Gauge>& change_stream_lag;         // {target}
  prometheus::Family<prometheus::Gauge>& change_stream_retained;    // {target}
  prometheus::Family<prometheus::Counter>& change_stream_changes;   // {target,op}
  prometheus::Family<prometheus::Counter>& change_stream_gaps;      // {target}
  prometheus::Family<prometheus::Counter>& object_errors;           // {target,object_kind}
  prometheus::Family<prometheus::Counter>& own_rollbacks;           // {target}
  prometheus::Family<prometheus::Histogram>& fast_tick_duration;    // {target}
  prometheus::Family<prometheus::Gauge>& build_info;                // {version}
  // exposition receives each target's per-table lines (set by the agent;
  // null: per-table series are not exported).
  Exposition* exposition = nullptr;

  // SampleDurationBuckets are the histogram's bucket bounds in seconds.
  static prometheus::Histogram::BucketBoundaries SampleDurationBuckets();

 private:
  prometheus::Labels const_labels_;
};

}  // namespace pgwarden

#endif  // PGWARDEN_EXPORTERS_AGENT_METRICS_H_
