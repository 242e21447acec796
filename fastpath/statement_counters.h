#ifndef PGWARDEN_FASTPATH_STATEMENT_COUNTERS_H_
#define PGWARDEN_FASTPATH_STATEMENT_COUNTERS_H_

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "fastpath/pending_changes.h"
#include "fastpath/statement_text.h"
#include "pg/session.h"
#include "sources/table_changes.h"

namespace pgwarden {

// StatementCountersOptions tunes the statement fast path.
struct StatementCountersOptions {
  // Query texts fetched per poll (one per new queryid); the others wait for
  // the next poll with their counters kept back, so nothing is lost.
  int max_texts_per_poll = 50;
  // Unqualified table names resolved to a schema per poll.
  int max_names_per_poll = 50;
  // A held change older than this is dropped unreported.
  absl::Duration max_pending_age = absl::Minutes(10);
  // While pg_stat_statements is missing, how often to look for it again.
  absl::Duration recheck_unavailable = absl::Seconds(60);
  // Cached classifications; the cache is cleared when it grows past this.
  size_t max_cached_texts = 20000;
};

// StatementCountersStats counts what the polls did (for status and tests).
struct StatementCountersStats {
  int64_t polls = 0;
  int64_t counter_rows = 0;   // pg_stat_statements rows read by the last poll
  int64_t activity_rows = 0;  // pg_stat_activity rows read by the last poll
  int64_t texts_fetched = 0;  // query texts fetched, in all
  int64_t texts_deferred = 0;
  int64_t ambiguous = 0;  // statement deltas skipped: several tables or verbs
  int64_t resets = 0;     // entries whose counters went backwards
  int64_t evicted = 0;    // entries that vanished
  // rows discarded because the role's ROLLBACK counter rose in the same
  // poll (the rows may be the rolled-back ones).
  int64_t discarded_rows = 0;
  // polls where pg_xact_status could not be asked (ROLLBACK counts only).
  int64_t xact_status_failures = 0;
};

// StatementCounters reads pg_stat_statements of the current database on a
// fast tick and reports, per (role, table), the rows that statements which
// ended since the previous poll inserted, updated and deleted, and the
// tables they truncated, without waiting for the cumulative statistics.
//
// Each poll reads, in this order, pg_stat_activity (the client backends of
// the database: one row each) and the counters without query text
// (pg_stat_statements(false): one row per entry of the database, at most
// pg_stat_statements.max, 5000 by default); then, only for queryids not seen
// before, their texts (pg_stat_statements(true) WHERE queryid = ANY($1):
// this reads the whole query-text file once per such poll) and, for userids
// not seen before, their role names. A quiet database therefore costs two
// queries per poll: about (entries + backends) rows, e.g. 5,000 + 100 rows
// at 4 polls a second.
//
// Deltas: an entry seen before yields its counters' growth; an entry first
// seen after the first poll yields its whole counters (entries are created
// when a statement is first parsed); an entry whose counters went backwards
// (a reset of that entry) is re-baselined and yields nothing; vanished
// entries (reset, deallocation) are forgotten. The first poll only takes a
// baseline. A statement naming several tables or verbs is skipped (counted
// in stats().ambiguous), except a TRUNCATE of several tables.
//
// Rolled-back writes: pg_stat_statements counts a statement's rows when it
// ends, before its transaction commits. A change whose role has a session in
// a multi-statement transaction (idle in transaction, or active with
// xact_start < query_start) whose last statement ended after the previous
// poll is held (see PendingChanges) until those transactions end; it is
// discarded if the role's ROLLBACK / ABORT counters rose meanwhile. A change
// of a role whose ROLLBACK counter rose in the same poll is discarded too.
// Otherwise (autocommit statements) it is reported on the first poll after
// the statement ended. Limits: a transaction that ends without a ROLLBACK
// statement (client disconnects, error at COMMIT, backend terminated) is
// taken as committed; rows are attributed to the role that ran the
// statement (the current user), transactions to the session user; a role
// that rolls back often loses its changes in the same polls; a client that
// sends "BEGIN; DELETE ..." as one simple query and rolls back may be
// reported if the DELETE ends between the two reads of one poll; a ROLLBACK
// inside a procedure is seen only with pg_stat_statements.track = all.
// INSERT rows are counted for a top-level INSERT INTO one table (ON
// CONFLICT DO UPDATE rows count as inserted). Not thread-safe.
class StatementCounters {
 public:
  explicit StatementCounters(StatementCountersOptions options = {});

  // Poll returns the changes found since the previous poll (an empty result
  // while pg_stat_statements is missing or on the first poll). Errors are
  // those of the session (Unavailable, DeadlineExceeded, ...); after one
  // nothing is changed and the next poll takes the same deltas.
  absl::StatusOr<std::vector<TableChange>> Poll(pg::Session& conn, absl::Time now);

  // available is false while pg_stat_statements cannot be read.
  bool available() const { return available_; }
  // pending returns how many changes are held.
  size_t pending() const { return pending_.size(); }
  const StatementCountersStats& stats() const { return stats_; }
  const PendingStats& pending_stats() const { return pending_.stats(); }

 private:
  using Key = std::tuple<int64_t, int64_t, bool>;  // userid, queryid, toplevel
  struct Counters {
    int64_t calls = 0;
    int64_t rows = 0;
  };
  struct Session {
    std::string role;
    XactId xact;
    bool multi = false;         // in a multi-statement transaction
    double last_end_epoch = 0;  // when its last statement can have ended
  };
  struct Activity {
    double now_epoch = 0;
    std::vector<Session> sessions;
  };

  absl::StatusOr<bool> CheckInstalled(pg::Session& conn, absl::Time now);
  absl::StatusOr<Activity> ReadActivity(pg::Session& conn);
  std::map<Key, Counters> Deltas(const std::map<Key, Counters>& current);
  absl::Status FetchTexts(pg::Session& conn, const std::map<Key, Counters>& delta);
  absl::Status FetchRoles(pg::Session& conn, const std::map<Key, Counters>& delta);
  absl::Status ResolveSchemas(pg::Session& conn);
  std::string RoleName(int64_t userid) const;
  // Route holds, discards or releases this poll's changes and resolves the
  // held ones; it returns the released changes merged per (role, table).
  // Aborted asks PostgreSQL which held transactions that ended rolled back.
  std::set<std::string> Aborted(pg::Session& conn, const Activity& activity);
  std::vector<TableChange> Route(const Activity& activity, const std::map<Key, Counters>& delta,
                                 const std::set<std::string>& aborted, absl::Time now);
  void Rebaseline(std::map<Key, Counters> current, const std::map<Key, Counters>& delta,
                  double epoch);
  // Changes turns one entry's delta into table changes (none if it writes
  // nothing or is ambiguous).
  std::vector<TableChange> Changes(const StatementClass& cls, const std::string& role,
                                   const Counters& d);

  StatementCountersOptions options_;
  bool available_ = true;
  bool checked_ = false;
  absl::Time last_check_ = absl::InfinitePast();
  bool have_baseline_ = false;
  std::map<Key, Counters> baseline_;
  double baseline_epoch_ = 0;                   // server clock of the previous activity read
  std::map<int64_t, StatementClass> classes_;   // by queryid
  std::map<int64_t, std::string> roles_;        // by userid
  std::map<std::string, std::string> schemas_;  // unqualified table -> schema ("" unknown)
  PendingChanges pending_;
  StatementCountersStats stats_;
};

}  // namespace pgwarden

#endif  // PGWARDEN_FASTPATH_STATEMENT_COUNTERS_H_
