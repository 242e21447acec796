#include "agent/row_history.h"

#include "absl/container/flat_hash_set.h"

namespace pgwarden {

void RowHistory::Want(const std::vector<HistoryWanted>& wanted) {
  absl::flat_hash_set<std::string> keep;
  for (const HistoryWanted& w : wanted) keep.insert(w.object);
  absl::erase_if(tables_, [&keep](const auto& kv) { return !keep.contains(kv.first); });
  for (const HistoryWanted& w : wanted) {
    if (tables_.size() >= kMaxTables) break;
    auto [it, inserted] = tables_.try_emplace(w.object);
    if (inserted && w.rows_before >= 0) {
      it->second.push_back(Point{absl::ToUnixMillis(w.before), w.rows_before});
    }
  }
}

void RowHistory::Record(const std::string& object, absl::Time t, int64_t rows) {
  auto it = tables_.find(object);
  if (it == tables_.end()) return;
  std::deque<Point>& points = it->second;
  const int64_t ms = absl::ToUnixMillis(t);
  const int64_t spacing = absl::ToInt64Milliseconds(kWindow) / static_cast<int64_t>(kMaxPoints);
  // The first point is the row count before the incident: kept until it
  // leaves the window, never replaced.
  // The last point moves with each sample until it is `spacing` after the
  // point before it; then the next sample starts a new point.
  if (points.size() > 1 && ms - points[points.size() - 2].unix_ms < spacing) {
    points.back() = Point{ms, rows};
  } else {
    points.push_back(Point{ms, rows});
  }
  const int64_t oldest = ms - absl::ToInt64Milliseconds(kWindow);
  while (!points.empty() && (points.front().unix_ms < oldest || points.size() > kMaxPoints)) {
    points.pop_front();
  }
}

size_t RowHistory::points() const {
  size_t n = 0;
  for (const auto& [object, points] : tables_) n += points.size();
  return n;
}

nlohmann::json RowHistory::Json() const {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [object, points] : tables_) {
    nlohmann::json series = nlohmann::json::array();
    for (const Point& p : points) series.push_back({p.unix_ms, p.rows});
    j[object] = std::move(series);
  }
  return j;
}

}  // namespace pgwarden
