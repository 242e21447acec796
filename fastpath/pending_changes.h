#ifndef PGWARDEN_FASTPATH_PENDING_CHANGES_H_
#define PGWARDEN_FASTPATH_PENDING_CHANGES_H_

#include <cstdint>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "absl/time/time.h"
#include "sources/table_changes.h"

namespace pgwarden {

// XactId names one open transaction: the backend's pid and its xact_start
// (as text, exact to the microsecond).
struct XactId {
  int pid = 0;
  std::string xact_start;
  // xid is the transaction's id (pg_stat_activity.backend_xid, "" until it
  // writes); not part of its identity, used to ask how it ended.
  std::string xid;
  bool operator<(const XactId& o) const {
    return std::tie(pid, xact_start) < std::tie(o.pid, o.xact_start);
  }
  bool operator==(const XactId& o) const { return pid == o.pid && xact_start == o.xact_start; }
};

// PendingStats counts what became of held changes.
struct PendingStats {
  int64_t held = 0;      // changes held (merged ones count once each)
  int64_t released = 0;  // changes released as committed
  // rows (inserted + updated + deleted) discarded because the role rolled
  // back while they were held.
  int64_t discarded_rows = 0;
  int64_t dropped_stale = 0;  // held longer than max_age, dropped unreported
};

// PendingChanges holds statement-counter changes whose transaction may still
// roll back: each is tied to the open multi-statement transactions of its
// role that could have made it, and is released when all of them have ended,
// unless the role ran a ROLLBACK meanwhile (then it is discarded). Pure
// bookkeeping, no SQL; not thread-safe.
class PendingChanges {
 public:
  explicit PendingChanges(absl::Duration max_age = absl::Minutes(10)) : max_age_(max_age) {}

  // Hold keeps `change` (made by change.role) until every one of `xacts`
  // has ended. `xacts` must not be empty.
  void Hold(const TableChange& change, const std::vector<XactId>& xacts, absl::Time now);

  // Resolve is called once per poll after the Holds of that poll: `open` is
  // every transaction open now, `rolled_back` the roles whose ROLLBACK /
  // ABORT counters rose in this poll. Changes whose transactions all ended
  // are appended to *released (or discarded if their role rolled back while
  // they were held); changes older than max_age are dropped.
  // `aborted` holds the xids (of EndedXids) that PostgreSQL says rolled back
  // (pg_xact_status): a change tied to one of them is discarded, whether or
  // not a ROLLBACK statement was counted (a cancelled statement, a client
  // gone mid-transaction).
  void Resolve(const std::set<XactId>& open, const std::set<std::string>& rolled_back,
               absl::Time now, std::vector<TableChange>* released,
               const std::set<std::string>& aborted = {});
  // EndedXids lists the xids of held transactions that are not in `open`.
  std::vector<std::string> EndedXids(const std::set<XactId>& open) const;

  size_t size() const { return entries_.size(); }
  const PendingStats& stats() const { return stats_; }

 private:
  struct Entry {
    TableChange change;
    std::set<XactId> xacts;
    absl::Time since;
    bool rolled_back = false;
  };
  absl::Duration max_age_;
  std::vector<Entry> entries_;
  PendingStats stats_;
};

// AddChange adds the counts of `from` into `to` (same role and table).
void AddChange(const TableChange& from, TableChange* to);

}  // namespace pgwarden

#endif  // PGWARDEN_FASTPATH_PENDING_CHANGES_H_
