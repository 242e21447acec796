#include <algorithm>
#include <functional>
#include <memory>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "agent/target_loop.h"
#include "agent/target_loop_series.h"
#include "core/target_id.h"
#include "exporters/exposition.h"
#include "remediation/object_access.h"

namespace pgwarden {

prometheus::Labels TargetLoop::ScoreLabels(const std::string& signal) const {
  prometheus::Labels l = TargetLabels(target_.name, "signal", signal);
  l["schema"] = "";
  l["table"] = "";
  return l;
}

namespace {

// Exported picks the tables whose series are exported under `policy`
// (besides those a signal named lately); *all when every table is.
absl::flat_hash_set<int64_t> Exported(const absl::flat_hash_map<int64_t, TableState>& tables,
                                      const PerTableMetrics& policy, bool* all) {
  PerTableMetrics::Mode mode = policy.mode;
  int top = policy.top;
  if (mode == PerTableMetrics::Mode::kAuto) {
    mode = tables.size() <= PerTableMetrics::kAutoLimit ? PerTableMetrics::Mode::kAll
                                                        : PerTableMetrics::Mode::kTop;
    top = 1000;
  }
  *all = mode == PerTableMetrics::Mode::kAll;
  absl::flat_hash_set<int64_t> out;
  if (*all) return out;
  std::vector<std::pair<int64_t, int64_t>> by_size;  // (live rows, oid)
  for (const auto& [oid, st] : tables) {
    const bool anomalous = st.rows_score > 0 || st.delete_rate_score > 0 ||
                           (st.update_rate && st.update_rate->score() > 0);
    if (anomalous) out.insert(oid);
    if (mode == PerTableMetrics::Mode::kTop) by_size.emplace_back(st.last.live_rows, oid);
  }
  const size_t n = std::min(by_size.size(), static_cast<size_t>(std::max(0, top)));
  std::partial_sort(by_size.begin(), by_size.begin() + static_cast<std::ptrdiff_t>(n),
                    by_size.end(), std::greater<>());
  for (size_t i = 0; i < n; ++i) out.insert(by_size[i].second);
  return out;
}

}  // namespace

void TargetLoop::PublishTables(const WatchResult& result) {
  TargetLoopSeries& series = *series_;
  if (!result.removed.empty()) {
    // Dropped or renamed-away tables: their series go with them.
    absl::erase_if(series.tables,
                   [this](const auto& kv) { return !watch_.tables().contains(kv.first); });
  }
  bool all = true;
  const absl::flat_hash_set<int64_t> exported = Exported(watch_.tables(), config_->per_table, &all);
  auto lines = std::make_shared<TableLines>();
  for (const auto& [oid, st] : watch_.tables()) {
    auto [it, inserted] = series.tables.try_emplace(oid);
    TableSeries& s = it->second;
    if (inserted) {
      prometheus::Labels l = TargetLabels(target_.name);
      l.insert(metrics_->ConstLabels().begin(), metrics_->ConstLabels().end());
      l["schema"] = st.last.schema;
      l["table"] = st.last.name;
      s.prefix = SeriesPrefix(l);
    }
    // Counters follow the server whether exported or not, so a table that
    // enters the exported set continues its counter.
    MirrorValue(&s.deleted, &s.last_deleted, st.last.deleted);
    MirrorValue(&s.inserted, &s.last_inserted, st.last.inserted);
    if (!all && !exported.contains(oid) && s.pinned_until < st.last_time) continue;
    AppendSample(&lines->text[0], TableFamily::kRows, s.prefix, "",
                 static_cast<double>(st.last.live_rows));
    AppendSample(&lines->text[1], TableFamily::kDeleted, s.prefix, "", s.deleted);
    AppendSample(&lines->text[2], TableFamily::kInserted, s.prefix, "", s.inserted);
    std::string& score = lines->text[3];
    AppendSample(&score, TableFamily::kScore, s.prefix, ",signal=\"rows\"", st.rows_score);
    AppendSample(&score, TableFamily::kScore, s.prefix, ",signal=\"delete_rate\"",
                 st.delete_rate_score);
    if (st.update_rate) {
      AppendSample(&score, TableFamily::kScore, s.prefix, ",signal=\"update_rate\"",
                   st.update_rate->score());
    }
  }
  if (metrics_->exposition != nullptr) metrics_->exposition->Publish(target_.name, lines);
}

void TargetLoop::RecordHistory(const Snapshot& snap) {
  std::vector<HistoryWanted> wanted;
  for (RecentTable& t : incidents_->RecentTables(target_.name, snap.time - RowHistory::kWindow)) {
    // The rows before were the previous sample's.
    wanted.push_back({std::move(t.object), t.rows_before, t.opened - config_->interval});
  }
  absl::MutexLock lock(&status_mu_);
  history_.Want(wanted);
  if (history_.empty()) return;
  for (const TableStat& t : snap.tables) {
    history_.Record(absl::StrCat(t.schema, ".", t.name), snap.time, t.live_rows);
  }
}

void TargetLoop::RemoveSeries() {
  if (metrics_->exposition != nullptr) metrics_->exposition->Publish(target_.name, nullptr);
  const prometheus::Labels l = TargetLabels(target_.name);
  for (auto* f : {&metrics_->xact_commit, &metrics_->xact_rollback, &metrics_->wal_archived,
                  &metrics_->wal_archive_failures}) {
    Drop(*f, l);
  }
  for (auto* f : {&metrics_->tables_watched, &metrics_->wal_archive_last_success,
                  &metrics_->wal_archive_enabled, &metrics_->up}) {
    Drop(*f, l);
  }
  for (const char* signal : {"rollback_ratio", "failed_logins"}) {
    Drop(metrics_->anomaly_score, ScoreLabels(signal));
  }
  metrics_->sample_duration.Remove(&duration_);
  fast_.RemoveSeries();
  *series_ = TargetLoopSeries();
}

void TargetLoop::PublishDatabase(const Snapshot& snap) {
  TargetLoopSeries& series = *series_;
  if (series.commits == nullptr) {
    series.commits = &metrics_->xact_commit.Add(TargetLabels(target_.name));
    series.rollbacks = &metrics_->xact_rollback.Add(TargetLabels(target_.name));
    series.rollback_score = &metrics_->anomaly_score.Add(ScoreLabels("rollback_ratio"));
    series.watched = &metrics_->tables_watched.Add(TargetLabels(target_.name));
    series.last_commit = 0;
    series.last_rollback = 0;
  }
  Mirror(series.commits, &series.last_commit, snap.db.xact_commit);
  Mirror(series.rollbacks, &series.last_rollback, snap.db.xact_rollback);
  ObjectErrors::Get().SetOwnRollbacks(target_.name, snap.db.own_rollbacks);
  series.rollback_score->Set(watch_.rollback_ratio_score());
  series.watched->Set(static_cast<double>(snap.tables.size()));
  if (series.wal_archived == nullptr) {
    const prometheus::Labels l = TargetLabels(target_.name);
    series.wal_archived = &metrics_->wal_archived.Add(l);
    series.wal_archive_failures = &metrics_->wal_archive_failures.Add(l);
    series.wal_archive_last_success = &metrics_->wal_archive_last_success.Add(l);
    series.wal_archive_enabled = &metrics_->wal_archive_enabled.Add(l);
  }
  Mirror(series.wal_archived, &series.last_archived, snap.archiver.archived);
  Mirror(series.wal_archive_failures, &series.last_archive_failed, snap.archiver.failed);
  series.wal_archive_last_success->Set(
      snap.archiver.last_archived == absl::InfinitePast()
          ? 0
          : absl::ToDoubleSeconds(snap.archiver.last_archived - absl::UnixEpoch()));
  series.wal_archive_enabled->Set(snap.archiver.enabled ? 1 : 0);
}

}  // namespace pgwarden
