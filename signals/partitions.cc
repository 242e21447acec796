#include "signals/partitions.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace pgwarden {

const PartitionMap::Partition* PartitionMap::Find(int64_t oid, const std::string& schema,
                                                  const std::string& table) const {
  if (oid == 0) {  // the session guard names tables, not oids
    auto named = by_name_.find(absl::StrCat(schema, ".", table));
    if (named == by_name_.end()) return nullptr;
    oid = named->second;
  }
  auto it = now_.find(oid);
  if (it != now_.end()) return &it->second;
  it = before_.find(oid);
  return it == before_.end() ? nullptr : &it->second;
}

void PartitionMap::Update(const std::vector<TableStat>& tables, absl::Time now,
                          std::vector<SignalEvent>* events) {
  before_ = std::move(now_);
  now_.clear();
  by_name_.clear();
  std::vector<SignalEvent> detached;
  for (const TableStat& t : tables) {
    if (!t.parent_name.empty()) {
      now_[t.oid] = Partition{{t.schema, t.name}, {t.parent_schema, t.parent_name}};
      by_name_[absl::StrCat(t.schema, ".", t.name)] = t.oid;
      continue;
    }
    auto was = before_.find(t.oid);
    if (was == before_.end()) continue;
    const Partition& p = was->second;
    SignalEvent ev;
    ev.kind = SignalKind::kDestructiveDdl;
    ev.schema = t.schema;
    ev.table = t.name;
    ev.oid = t.oid;
    ev.severity = Severity::kError;
    ev.time = now;
    ev.description = absl::StrCat("partition ", t.schema, ".", t.name, " detached (", t.live_rows,
                                  " rows no longer in the partitioned table)");
    ev.figures = {{"change", "detach_partition"}, {"rows", t.live_rows}};
    detached.push_back(std::move(ev));
    // Kept for one more snapshot, so the event below still rolls up.
    now_[t.oid] = p;
  }
  RollUp(&detached);
  // The detached table is not a partition any more: forget it next time.
  // Not a partition from the next snapshot on; events of this tick (about
  // its time as a partition) still roll up.
  for (const SignalEvent& ev : detached) now_.erase(ev.oid);
  for (SignalEvent& ev : detached) events->push_back(std::move(ev));
}

void PartitionMap::RollUp(std::vector<SignalEvent>* events) const {
  for (SignalEvent& ev : *events) {
    if (ev.table.empty() || ev.figures.contains("partition")) continue;
    const Partition* p = Find(ev.oid, ev.schema, ev.table);
    if (p == nullptr || p->self.schema != ev.schema || p->self.table != ev.table) continue;
    const std::string partition = absl::StrCat(ev.schema, ".", ev.table);
    ev.figures["partition"] = partition;
    ev.description = absl::StrCat("partitioned table ", p->root.schema, ".", p->root.table,
                                  ", partition ", partition, ": ", ev.description);
    ev.schema = p->root.schema;
    ev.table = p->root.table;
  }
}

}  // namespace pgwarden
