#include "agent/target_loop.h"
#include "agent/target_loop_series.h"
#include "remediation/object_access.h"

namespace pgwarden {

void TargetLoop::PublishTables(const WatchResult& result) {
  TargetLoopSeries& series = *series_;
  if (!result.removed.empty()) {
    // Dropped or renamed-away tables: their series go with them.
    for (auto it = series.tables.begin(); it != series.tables.end();) {
      if (watch_.tables().contains(it->first)) {
        ++it;
        continue;
      }
      metrics_->table_rows.Remove(it->second.rows);
      metrics_->rows_deleted.Remove(it->second.deleted);
      metrics_->rows_inserted.Remove(it->second.inserted);
      metrics_->anomaly_score.Remove(it->second.score_rows);
      metrics_->anomaly_score.Remove(it->second.score_delete_rate);
      if (it->second.score_update_rate != nullptr) {
        metrics_->anomaly_score.Remove(it->second.score_update_rate);
      }
      series.tables.erase(it++);
    }
  }
  for (const auto& [oid, st] : watch_.tables()) {
    auto [it, inserted] = series.tables.try_emplace(oid);
    TableSeries& s = it->second;
    if (inserted) {
      const prometheus::Labels l = {
          {"target", target_.name}, {"schema", st.last.schema}, {"table", st.last.name}};
      s.rows = &metrics_->table_rows.Add(l);
      s.deleted = &metrics_->rows_deleted.Add(l);
      s.inserted = &metrics_->rows_inserted.Add(l);
      prometheus::Labels r = l;
      r["signal"] = "rows";
      s.score_rows = &metrics_->anomaly_score.Add(r);
      r["signal"] = "delete_rate";
      s.score_delete_rate = &metrics_->anomaly_score.Add(r);
      if (st.update_rate) {
        r["signal"] = "update_rate";
        s.score_update_rate = &metrics_->anomaly_score.Add(r);
      }
    }
    s.rows->Set(static_cast<double>(st.last.live_rows));
    Mirror(s.deleted, &s.last_deleted, st.last.deleted);
    Mirror(s.inserted, &s.last_inserted, st.last.inserted);
    s.score_rows->Set(st.rows_score);
    s.score_delete_rate->Set(st.delete_rate_score);
    if (s.score_update_rate != nullptr) s.score_update_rate->Set(st.update_rate->score());
  }
}

void TargetLoop::PublishDatabase(const Snapshot& snap) {
  TargetLoopSeries& series = *series_;
  if (series.commits == nullptr) {
    series.commits = &metrics_->xact_commit.Add({{"target", target_.name}});
    series.rollbacks = &metrics_->xact_rollback.Add({{"target", target_.name}});
    series.rollback_score = &metrics_->anomaly_score.Add(
        {{"target", target_.name}, {"signal", "rollback_ratio"}, {"schema", ""}, {"table", ""}});
    series.watched = &metrics_->tables_watched.Add({{"target", target_.name}});
    series.last_commit = 0;
    series.last_rollback = 0;
  }
  Mirror(series.commits, &series.last_commit, snap.db.xact_commit);
  Mirror(series.rollbacks, &series.last_rollback, snap.db.xact_rollback);
  ObjectErrors::Get().SetOwnRollbacks(target_.name, snap.db.own_rollbacks);
  series.rollback_score->Set(watch_.rollback_ratio_score());
  series.watched->Set(static_cast<double>(snap.tables.size()));
  if (series.wal_archived == nullptr) {
    const prometheus::Labels l = {{"target", target_.name}};
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
