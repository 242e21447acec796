#ifndef PGWARDEN_SOURCES_TABLE_CHANGES_H_
#define PGWARDEN_SOURCES_TABLE_CHANGES_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/time/time.h"

namespace pgwarden {

// TableChange is what committed (or finished) writes did to one table, as
// seen by a source that does not wait for the cumulative statistics: the
// change stream (exact, committed) or the statement counters (per role, at
// statement end).
struct TableChange {
  std::string schema;
  std::string table;
  int64_t inserted = 0;
  int64_t updated = 0;
  int64_t deleted = 0;
  // truncated: a TRUNCATE of the table committed.
  bool truncated = false;
  // role that made the change, when the source knows it ("" otherwise).
  std::string role;
};

// CommittedTxn is one transaction decoded from the change stream, delivered
// when it commits (a rolled-back transaction is never decoded).
struct CommittedTxn {
  uint32_t xid = 0;
  // commit_lsn is the end of the commit record: the position confirmed to
  // the server once the transaction is accounted for.
  uint64_t commit_lsn = 0;
  // last_change_lsn is the start of its last decoded change (or of its
  // BEGIN): a restore to it with recovery_target_inclusive = off stops
  // before this transaction commits.
  uint64_t last_change_lsn = 0;
  absl::Time commit_time = absl::InfinitePast();
  // tables touched, one entry per table (only watched tables if filtered).
  std::vector<TableChange> tables;
};

// FormatLsn renders an LSN as PostgreSQL does ("16/B374D848").
std::string FormatLsn(uint64_t lsn);
// ParseLsn is the inverse of FormatLsn; false on malformed text.
bool ParseLsn(const std::string& text, uint64_t* lsn);

}  // namespace pgwarden

#endif  // PGWARDEN_SOURCES_TABLE_CHANGES_H_
