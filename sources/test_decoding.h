#ifndef PGWARDEN_SOURCES_TEST_DECODING_H_
#define PGWARDEN_SOURCES_TEST_DECODING_H_

#include <cstdint>
#include <functional>
#include <string>
#include <unordered_map>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/optional.h"
#include "sources/table_changes.h"

namespace pgwarden {

// DecodedKind is what one line of the test_decoding output plugin says.
enum class DecodedKind {
  kBegin,     // "BEGIN 1234"
  kCommit,    // "COMMIT 1234 (at 2026-12-02 05:00:00.123456+00)"
  kInsert,    // "table public.orders: INSERT: id[integer]:5 ..."
  kUpdate,    // "table public.orders: UPDATE: ..."
  kDelete,    // "table public.orders: DELETE: id[integer]:5"
  kTruncate,  // "table public.a, public.b: TRUNCATE: (no-flags)"
  kIgnored,   // a logical message ("message: transactional: ...")
};

// DecodedTable is one table a line names, unquoted.
struct DecodedTable {
  std::string schema;
  std::string table;
};

// DecodedLine is one parsed test_decoding line. Column values are not kept.
struct DecodedLine {
  DecodedKind kind = DecodedKind::kIgnored;
  // xid of BEGIN and COMMIT lines (0 when the plugin omits it).
  uint32_t xid = 0;
  // commit_time of a COMMIT line with include-timestamp (InfinitePast if absent).
  absl::Time commit_time = absl::InfinitePast();
  // tables: one for INSERT / UPDATE / DELETE, one or more for TRUNCATE.
  std::vector<DecodedTable> tables;
};

// ParseTestDecodingLine parses one line as PostgreSQL 15's test_decoding
// prints it (identifiers as quote_identifier writes them: "my schema"."a:b"
// with doubled quotes inside). A malformed line is an InvalidArgument error
// quoting the start of the line.
absl::StatusOr<DecodedLine> ParseTestDecodingLine(absl::string_view line);

// ParseQuotedIdentifier reads one identifier at `*pos` of `text` (quoted or
// not), advances `*pos` past it and stores it unquoted; false if malformed.
bool ParseQuotedIdentifier(absl::string_view text, size_t* pos, std::string* out);

// WatchFilter says whether a table is watched (a null filter watches all).
using WatchFilter = std::function<bool(const std::string& schema, const std::string& table)>;

// FeedResult is what one line fed to a TxnAssembler produced.
struct FeedResult {
  // committed is set by a COMMIT line: the transaction, with only watched
  // tables in it (possibly none).
  absl::optional<CommittedTxn> committed;
  // error is a malformed or out-of-place line. The line is skipped and the
  // stream goes on; a malformed COMMIT still ends the open transaction.
  absl::Status error;
};

// TxnAssembler turns the stream of test_decoding lines into committed
// transactions, aggregating row counts per watched table as it goes (rows
// are never kept, so a transaction of any size takes constant memory per
// table). Not thread-safe.
class TxnAssembler {
 public:
  explicit TxnAssembler(WatchFilter watched = nullptr);

  // Feed parses one line; `wal_start` is the XLogData start of the message
  // carrying it (for a COMMIT, the end of the commit record: the
  // transaction's commit_lsn).
  FeedResult Feed(absl::string_view line, uint64_t wal_start);

  // in_transaction is true between a BEGIN and its COMMIT.
  bool in_transaction() const { return open_; }
  // xid of the open transaction (0 outside one).
  uint32_t xid() const { return xid_; }
  // Reset forgets a transaction in progress (after a reconnect the server
  // sends it again from its BEGIN).
  void Reset();

 private:
  bool Watched(const DecodedTable& t);
  TableChange* Entry(const DecodedTable& t);
  CommittedTxn Finish(uint32_t xid, absl::Time commit_time, uint64_t lsn);

  WatchFilter watched_;
  // Filter answers per "schema\0table", bounded (cleared when large).
  std::unordered_map<std::string, bool> watch_cache_;
  bool open_ = false;
  uint32_t xid_ = 0;
  CommittedTxn txn_;
  // index into txn_.tables per "schema\0table" of the open transaction.
  std::unordered_map<std::string, size_t> index_;
};

}  // namespace pgwarden

#endif  // PGWARDEN_SOURCES_TEST_DECODING_H_
