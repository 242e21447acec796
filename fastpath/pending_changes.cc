#include "fastpath/pending_changes.h"

#include <utility>

namespace pgwarden {

void AddChange(const TableChange& from, TableChange* to) {
  to->inserted += from.inserted;
  to->updated += from.updated;
  to->deleted += from.deleted;
  to->truncated = to->truncated || from.truncated;
}

namespace {
// SameXacts compares two sets of transactions by identity, keeping the xid
// learnt since.
bool SameXacts(std::set<XactId>& held, const std::set<XactId>& now) {
  if (!(held == now)) return false;
  std::set<XactId> merged;
  auto n = now.begin();
  for (const XactId& h : held) {
    XactId x = h;
    if (x.xid.empty()) x.xid = n->xid;
    merged.insert(std::move(x));
    ++n;
  }
  held = std::move(merged);
  return true;
}
}  // namespace

void PendingChanges::Hold(const TableChange& change, const std::vector<XactId>& xacts,
                          absl::Time now) {
  ++stats_.held;
  const std::set<XactId> ids(xacts.begin(), xacts.end());
  for (Entry& e : entries_) {
    if (!e.rolled_back && SameXacts(e.xacts, ids) && e.change.role == change.role &&
        e.change.schema == change.schema && e.change.table == change.table) {
      AddChange(change, &e.change);
      return;
    }
  }
  entries_.push_back(Entry{change, ids, now, false});
}

std::vector<std::string> PendingChanges::EndedXids(const std::set<XactId>& open) const {
  std::set<std::string> out;
  for (const Entry& e : entries_) {
    for (const XactId& x : e.xacts) {
      if (!x.xid.empty() && open.count(x) == 0) out.insert(x.xid);
    }
  }
  return {out.begin(), out.end()};
}

void PendingChanges::Resolve(const std::set<XactId>& open, const std::set<std::string>& rolled_back,
                             absl::Time now, std::vector<TableChange>* released,
                             const std::set<std::string>& aborted) {
  std::vector<Entry> kept;
  kept.reserve(entries_.size());
  for (Entry& e : entries_) {
    if (rolled_back.count(e.change.role) > 0) e.rolled_back = true;
    for (auto it = e.xacts.begin(); it != e.xacts.end();) {
      if (open.count(*it) > 0) {
        ++it;
        continue;
      }
      if (!it->xid.empty() && aborted.count(it->xid) > 0) e.rolled_back = true;
      it = e.xacts.erase(it);
    }
    if (e.xacts.empty()) {
      if (e.rolled_back) {
        stats_.discarded_rows += e.change.inserted + e.change.updated + e.change.deleted;
      } else {
        ++stats_.released;
        released->push_back(std::move(e.change));
      }
    } else if (now - e.since > max_age_) {
      ++stats_.dropped_stale;
    } else {
      kept.push_back(std::move(e));
    }
  }
  entries_ = std::move(kept);
}

}  // namespace pgwarden
