#ifndef PGWARDEN_SIGNALS_PARTITIONS_H_
#define PGWARDEN_SIGNALS_PARTITIONS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/time/time.h"
#include "signals/signal_event.h"
#include "signals/table_ref.h"
#include "sources/pg_sampler.h"

namespace pgwarden {

// PartitionMap rolls partitions up to their partitioned table: the events of
// a partition speak of its root partitioned table (the table named in the
// page and the incident), with the partition in figures["partition"] and in
// the description. Detectors still run per partition. It remembers the
// partitions of the last two snapshots, so that a partition dropped since
// is still rolled up, and a partition detached since is reported.
class PartitionMap {
 public:
  // Update reads the partitions of a snapshot's tables; a table that was a
  // partition at the last snapshot and is one no longer (DETACH PARTITION)
  // gives a destructive_ddl event, appended to `events` (already rolled up);
  // the events of this tick about it still roll up, later ones do not.
  void Update(const std::vector<TableStat>& tables, absl::Time now,
              std::vector<SignalEvent>* events);
  // RollUp rewrites the events of known partitions to speak of their
  // partitioned table. Events already rolled up are left alone.
  void RollUp(std::vector<SignalEvent>* events) const;
  size_t size() const { return now_.size(); }
  // ParentOf is the partitioned table a partition (named, as of the last
  // two snapshots) belongs to, or null: a maintenance window on the
  // partitioned table covers its partitions.
  const TableRef* ParentOf(const std::string& schema, const std::string& table) const {
    const Partition* p = Find(0, schema, table);
    return p == nullptr ? nullptr : &p->root;
  }

 private:
  struct Partition {
    TableRef self;
    TableRef root;
  };
  // Find looks a partition up by oid, or by name when oid is 0.
  const Partition* Find(int64_t oid, const std::string& schema, const std::string& table) const;

  absl::flat_hash_map<int64_t, Partition> now_;
  absl::flat_hash_map<int64_t, Partition> before_;
  absl::flat_hash_map<std::string, int64_t> by_name_;  // "schema.table" -> oid, of now_
};

}  // namespace pgwarden

#endif  // PGWARDEN_SIGNALS_PARTITIONS_H_
