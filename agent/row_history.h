#ifndef PGWARDEN_AGENT_ROW_HISTORY_H_
#define PGWARDEN_AGENT_ROW_HISTORY_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"

namespace pgwarden {

// HistoryWanted is a table whose row count the status page draws: one of an
// open or recently resolved incident, with the rows it had before (-1: not
// known) and when that was, the history's first point.
struct HistoryWanted {
  std::string object;  // "schema.table"
  int64_t rows_before = -1;
  absl::Time before;
};

// RowHistory is the row count of the tables in open or recent incidents over
// the last kWindow, for the status page's sparklines. Only those tables are
// kept (at most kMaxTables, first come), each as at most kMaxPoints points:
// a sample less than kWindow / kMaxPoints after the previous point replaces
// it. Worst case kMaxTables * kMaxPoints * 16 bytes (about 460 KiB); none
// while no incident is open or recent. Not thread-safe.
class RowHistory {
 public:
  static constexpr absl::Duration kWindow = absl::Minutes(15);
  static constexpr size_t kMaxTables = 64;
  static constexpr size_t kMaxPoints = 450;

  // Want keeps the tables of `wanted` (each new one starting at its row
  // count before, when known) and forgets every other.
  void Want(const std::vector<HistoryWanted>& wanted);
  // Record adds a sample of `object` if it is kept (no-op otherwise).
  void Record(const std::string& object, absl::Time t, int64_t rows);
  bool empty() const { return tables_.empty(); }
  // points counts the points kept over all tables.
  size_t points() const;
  // Json is {"schema.table": [[unix_ms, rows], ...]}, oldest first.
  nlohmann::json Json() const;

 private:
  struct Point {
    int64_t unix_ms;
    int64_t rows;
  };
  absl::flat_hash_map<std::string, std::deque<Point>> tables_;
};

}  // namespace pgwarden

#endif  // PGWARDEN_AGENT_ROW_HISTORY_H_
