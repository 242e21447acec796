#ifndef PGWARDEN_SOURCES_ROW_JOURNAL_H_
#define PGWARDEN_SOURCES_ROW_JOURNAL_H_

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "sources/decoded_row.h"

namespace pgwarden {

// JournalRow is the old row of one committed DELETE.
struct JournalRow {
  uint32_t xid = 0;
  uint64_t lsn = 0;  // of the change (unique: resent changes are dropped)
  std::string schema;
  std::string table;
  std::vector<DecodedColumn> columns;
};

// JournalCommit is the commit of a transaction whose rows are journalled.
struct JournalCommit {
  uint32_t xid = 0;
  uint64_t commit_lsn = 0;
  absl::Time commit_time = absl::InfinitePast();
};

struct JournalOptions {
  std::string dir;                           // state_dir/journal/<target>
  uint64_t max_bytes = 256ULL << 20;         // journal.max_bytes
  absl::Duration max_age = absl::Hours(24);  // journal.max_age
  uint64_t segment_bytes = 16ULL << 20;      // one file's size before the next
};

// RowJournal keeps the old rows of committed DELETEs (decoded from the
// change stream on tables with REPLICA IDENTITY FULL) in append-only
// segment files (mode 0600, directory 0700): a row line as each change is
// decoded, a commit line when its transaction commits, synced then. Past
// max_bytes, or older than max_age, whole segments go, oldest first, their
// rows counted in dropped(). The files hold customer data: they are never
// logged. Not thread-safe (the change stream's thread).
class RowJournal {
 public:
  explicit RowJournal(JournalOptions options) : options_(std::move(options)) {}
  ~RowJournal();
  RowJournal(const RowJournal&) = delete;
  RowJournal& operator=(const RowJournal&) = delete;

  // Open creates the directory and finds the segments already there.
  absl::Status Open();
  // AddRow appends one decoded row (not yet synced).
  absl::Status AddRow(const JournalRow& row);
  // Commit appends the commit line, syncs, and applies the bounds.
  absl::Status Commit(const JournalCommit& commit, absl::Time now);

  uint64_t bytes() const;
  int64_t dropped() const { return dropped_; }

  // Read returns the committed rows of `tables` ("schema.table") whose
  // transaction committed at or after `from_lsn`, at or before `to_lsn` and
  // at or before `until`, each change once, in LSN order.
  static absl::StatusOr<std::vector<JournalRow>> Read(const std::string& dir,
                                                      const std::set<std::string>& tables,
                                                      uint64_t from_lsn, uint64_t to_lsn,
                                                      absl::Time until = absl::InfiniteFuture());

 private:
  struct Segment {
    uint64_t bytes = 0;
    int64_t rows = 0;
    absl::Time newest = absl::InfinitePast();
  };
  absl::Status Write(const std::string& line);
  absl::Status Rotate();
  void Enforce(absl::Time now);

  JournalOptions options_;
  std::map<std::string, Segment> segments_;  // by path; names sort by creation
  std::string current_;
  int fd_ = -1;
  int64_t dropped_ = 0;
  uint64_t sequence_ = 0;
};

}  // namespace pgwarden

#endif  // PGWARDEN_SOURCES_ROW_JOURNAL_H_
