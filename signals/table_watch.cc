#include "signals/table_watch.h"

#include <algorithm>
#include <cmath>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace pgwarden {

std::string FormatCount(int64_t n) {
  std::string digits = absl::StrCat(n < 0 ? -n : n);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out.push_back(',');
    out.push_back(digits[i]);
  }
  return n < 0 ? "-" + out : out;
}

namespace {
// TableEvent starts an event of `kind` on table `stat`.
SignalEvent TableEvent(SignalKind kind, const TableStat& stat, Severity severity, absl::Time now) {
  SignalEvent ev;
  ev.kind = kind;
  ev.schema = stat.schema;
  ev.table = stat.name;
  ev.oid = stat.oid;
  ev.severity = severity;
  ev.time = now;
  return ev;
}

// Rebaseline restarts a table's detectors from its current live rows (after
// a counter reset or a TRUNCATE).
void Rebaseline(TableState& st, const TableStat& stat, absl::Time now) {
  st.level = static_cast<double>(stat.live_rows);
  if (st.rows) st.rows->Reset();
  if (st.delete_rate) st.delete_rate->Reset();
  if (st.rows) st.rows_score = st.rows->Update(now, st.level).score;
  st.delete_rate_score = 0;
}

// TruncateEvent describes a TRUNCATE of `stat` (rows and relfilenode before
// in `prev`).
SignalEvent TruncateEvent(const TableStat& prev, const TableStat& stat, absl::Time now) {
  SignalEvent ev = TableEvent(SignalKind::kTruncate, stat, Severity::kCritical, now);
  ev.description = absl::StrCat("table ", stat.schema, ".", stat.name, " was truncated (",
                                FormatCount(prev.live_rows - stat.live_rows), " of ",
                                FormatCount(prev.live_rows), " rows gone)");
  ev.figures = {{"rows_before", prev.live_rows},
                {"rows_now", stat.live_rows},
                {"relfilenode_before", prev.relfilenode},
                {"relfilenode_now", stat.relfilenode}};
  return ev;
}

// RowLossEvent describes the level detector's alert `r` on `stat`, whose
// level fell to `level` with `deletes` deletes in the last `dt` seconds.
SignalEvent RowLossEvent(const TableStat& prev, const TableStat& stat, const DetectorResult& r,
                         double level, int64_t deletes, double dt, absl::Time now) {
  const double base = std::isfinite(r.baseline) && r.baseline > level
                          ? r.baseline
                          : static_cast<double>(prev.live_rows);
  const int64_t lost = static_cast<int64_t>(std::llround(base - level));
  SignalEvent ev = TableEvent(SignalKind::kRowLoss, stat, Severity::kCritical, now);
  ev.score = r.score;
  const double pct = base > 0 ? 100.0 * static_cast<double>(lost) / base : 0;
  ev.description =
      absl::StrFormat("table %s.%s lost %s of %s rows (%.1f%%); deleting at %s rows/s", stat.schema,
                      stat.name, FormatCount(lost), FormatCount(static_cast<int64_t>(base)), pct,
                      FormatCount(static_cast<int64_t>(static_cast<double>(deletes) / dt)));
  ev.figures = {{"rows_baseline", static_cast<int64_t>(base)},
                {"rows_now", stat.live_rows},
                {"rows_lost", lost},
                {"deleted_in_interval", deletes},
                {"delete_rate_per_s", static_cast<double>(deletes) / dt},
                {"score", r.score}};
  return ev;
}

// DeleteSpikeEvent describes the delete-rate detector's alert `r` on `stat`.
SignalEvent DeleteSpikeEvent(const TableStat& stat, const DetectorResult& r, double rate,
                             int64_t deletes, int64_t live_delta, absl::Time now) {
  SignalEvent ev = TableEvent(SignalKind::kDeleteSpike, stat, Severity::kError, now);
  ev.score = r.score;
  ev.description = absl::StrFormat(
      "table %s.%s: deletes jumped to %s rows/s (normal %s rows/s)", stat.schema, stat.name,
      FormatCount(static_cast<int64_t>(rate)),
      FormatCount(static_cast<int64_t>(std::isfinite(r.baseline) ? r.baseline : 0)));
  ev.figures = {{"delete_rate_per_s", rate},
                {"delete_rate_baseline", std::isfinite(r.baseline) ? r.baseline : 0.0},
                {"deleted_in_interval", deletes},
                {"live_rows_delta", live_delta},
                {"score", r.score}};
  return ev;
}
}  // namespace

TargetWatch::TargetWatch(DetectorFactories factories, Silencer silencer)
    : factories_(std::move(factories)), silencer_(std::move(silencer)) {
  if (factories_.rollback_ratio) rollback_ = factories_.rollback_ratio->Create();
  if (factories_.failed_logins) logins_ = factories_.failed_logins->Create();
}

void EmitUnlessSilenced(const TargetWatch::Silencer& silencer, SignalEvent ev, WatchResult* out) {
  if (silencer) {
    std::string reason = silencer(ev.schema, ev.table, ev.time);
    if (!reason.empty()) {
      out->suppressed.emplace_back(std::move(ev), std::move(reason));
      return;
    }
  }
  out->events.push_back(std::move(ev));
}

void TargetWatch::Emit(SignalEvent ev, WatchResult* out) {
  EmitUnlessSilenced(silencer_, std::move(ev), out);
}

WatchResult TargetWatch::Process(const Snapshot& snap) {
  WatchResult out;
  absl::flat_hash_set<int64_t> present;
  present.reserve(snap.tables.size());
  for (const TableStat& t : snap.tables) {
    present.insert(t.oid);
    ProcessTable(t, snap.time, &out);
  }
  // Tables watched before and absent now: dropped, or renamed out of scope.
  absl::flat_hash_set<int64_t> all(snap.all_oids.begin(), snap.all_oids.end());
  for (auto it = tables_.begin(); it != tables_.end();) {
    if (present.contains(it->first)) {
      ++it;
      continue;
    }
    const TableStat& last = it->second.last;
    out.removed.emplace_back(last.schema, last.name);
    if (!all.contains(it->first)) {
      SignalEvent ev = TableEvent(SignalKind::kDropTable, last, Severity::kCritical, snap.time);
      ev.description = absl::StrCat("table ", last.schema, ".", last.name, " was dropped (it had ",
                                    FormatCount(last.live_rows), " rows)");
      ev.figures = {{"rows_before", last.live_rows}, {"rows_now", 0}};
      Emit(std::move(ev), &out);
    }
    tables_.erase(it++);
  }
  ProcessDatabase(snap, &out);
  return out;
}

void TargetWatch::ProcessTable(const TableStat& stat, absl::Time now, WatchResult* out) {
  auto [it, inserted] = tables_.try_emplace(stat.oid);
  TableState& st = it->second;
  if (inserted) {
    st.last = stat;
    st.last_time = now;
    st.level = static_cast<double>(stat.live_rows);
    if (factories_.rows) st.rows = factories_.rows->Create();
    if (factories_.delete_rate) st.delete_rate = factories_.delete_rate->Create();
    if (factories_.update_rate) {
      st.update_rate = std::make_unique<UpdateSpikeTracker>(factories_.update_rate->Create(),
                                                            factories_.update_gate);
    }
    if (st.rows) st.rows_score = st.rows->Update(now, st.level).score;
    return;
  }
  const TableStat prev = st.last;
  const double dt = std::max(1e-3, absl::ToDoubleSeconds(now - st.last_time));
  st.last = stat;
  st.last_time = now;

  // Counters that go backwards mean a stats reset or crash recovery: start
  // over, never read it as a drop.
  if (stat.deleted < prev.deleted || stat.inserted < prev.inserted || stat.updated < prev.updated) {
    ++out->counter_resets;
    Rebaseline(st, stat, now);
    return;
  }

  // TRUNCATE gives the table a new relfilenode and zero live rows. (VACUUM
  // FULL and CLUSTER also change relfilenode but keep the rows.)
  if (stat.relfilenode != prev.relfilenode && prev.live_rows > 0 &&
      stat.live_rows <= prev.live_rows / 2) {
    Emit(TruncateEvent(prev, stat, now), out);
    Rebaseline(st, stat, now);
    return;
  }
  UpdateTableDetectors(st, prev, stat, now, dt, out);
  DetectOverwrite(st, prev, stat, now, dt, out);
}

void TargetWatch::UpdateTableDetectors(TableState& st, const TableStat& prev, const TableStat& stat,
                                       absl::Time now, double dt, WatchResult* out) {
  const int64_t deletes = stat.deleted - prev.deleted;
  const int64_t live_delta = stat.live_rows - prev.live_rows;
  // The level follows live rows, but a fall is only believed up to the
  // deletes counted in the same interval (n_live_tup is re-estimated by
  // ANALYZE and VACUUM; those corrections are not lost rows).
  st.level += static_cast<double>(std::max<int64_t>(live_delta, -deletes));
  if (st.level < 0) st.level = 0;
  st.churn.Observe(now, stat.inserted - prev.inserted, deletes, st.level);

  if (st.rows) {
    DetectorResult r = st.rows->Update(now, st.level);
    st.rows_score = r.score;
    if (r.alert && st.churn.Normal()) {
      out->suppressed.emplace_back(RowLossEvent(prev, stat, r, st.level, deletes, dt, now),
                                   st.churn.Reason());
    } else if (r.alert) {
      Emit(RowLossEvent(prev, stat, r, st.level, deletes, dt, now), out);
    }
  }

  if (st.delete_rate) {
    const double rate = static_cast<double>(deletes) / dt;
    DetectorResult r = st.delete_rate->Update(now, rate);
    st.delete_rate_score = r.score;
    if (r.alert) {
      // n_tup_del also counts deletes that rolled back: only committed ones
      // (seen as fewer live rows) are paged.
      const int64_t committed = std::max<int64_t>(0, -live_delta);
      SignalEvent ev = DeleteSpikeEvent(stat, r, rate, deletes, live_delta, now);
      if (committed * 2 < deletes) {
        out->suppressed.emplace_back(std::move(ev), "unconfirmed");
      } else if (st.churn.Normal()) {
        out->suppressed.emplace_back(std::move(ev), st.churn.Reason());
      } else {
        Emit(std::move(ev), out);
      }
    }
  }
}

void TargetWatch::DetectOverwrite(TableState& st, const TableStat& prev, const TableStat& stat,
                                  absl::Time now, double dt, WatchResult* out) {
  if (!st.update_rate) return;
  const int64_t updates = stat.updated - prev.updated;
  const UpdateVerdict v =
      st.update_rate->Observe(now, updates, dt, std::max(stat.live_rows, prev.live_rows));
  if (!v.fire) return;
  SignalEvent ev = UpdateSpikeEvent(stat.schema, stat.name, stat.oid, v, "", now);
  // n_tup_upd also counts updates that rolled back; n_mod_since_analyze
  // only committed changes (unknown across an ANALYZE, which resets it).
  const int64_t changes = updates + (stat.inserted - prev.inserted) + (stat.deleted - prev.deleted);
  const int64_t committed = stat.modified - prev.modified;
  if (stat.maintenance_count == prev.maintenance_count && committed >= 0 &&
      committed * 2 < changes) {
    out->suppressed.emplace_back(std::move(ev), "unconfirmed");
    return;
  }
  Emit(std::move(ev), out);
}

void TargetWatch::ProcessDatabase(const Snapshot& snap, WatchResult* out) {
  const DatabaseStat& db = snap.db;
  if (!have_db_) {
    have_db_ = true;
    last_db_ = db;
    return;
  }
  const DatabaseStat prev = last_db_;
  last_db_ = db;
  if (db.xact_commit < prev.xact_commit || db.xact_rollback < prev.xact_rollback) {
    ++out->counter_resets;
    if (rollback_) rollback_->Reset();
    return;
  }
  if (!rollback_) return;
  // The agent's own failed statements (an object it may not read, a
  // timeout) are rollbacks too: they never count against the database.
  const int64_t own = std::max<int64_t>(0, db.own_rollbacks - prev.own_rollbacks);
  const double rollbacks =
      static_cast<double>(std::max<int64_t>(0, db.xact_rollback - prev.xact_rollback - own));
  const double total = rollbacks + static_cast<double>(db.xact_commit - prev.xact_commit);
  DetectorResult r = rollback_->Update(snap.time, rollbacks, total);
  rollback_score_ = r.score;
  if (!r.alert) return;
  SignalEvent ev;
  ev.kind = SignalKind::kRollbackRatio;
  ev.severity = Severity::kError;
  ev.score = r.score;
  ev.time = snap.time;
  const double ratio = total > 0 ? rollbacks / total : 0;
  ev.description = absl::StrFormat(
      "database %s: rollback ratio jumped to %.0f%% (%s of %s transactions; normal %.1f%%)",
      snap.database, 100 * ratio, FormatCount(static_cast<int64_t>(rollbacks)),
      FormatCount(static_cast<int64_t>(total)),
      100 * (std::isfinite(r.baseline) ? r.baseline : 0.0));
  ev.figures = {{"rollbacks", rollbacks},
                {"transactions", total},
                {"ratio", ratio},
                {"baseline_ratio", std::isfinite(r.baseline) ? r.baseline : 0.0},
                {"score", r.score}};
  Emit(std::move(ev), out);
}

void TargetWatch::ProcessLogins(absl::Time now, const std::string& database,
                                const LoginFailures& failures, WatchResult* out) {
  if (!logins_) return;
  if (logins_last_ == absl::InfinitePast()) {
    logins_last_ = now;  // the first poll only marks where the log is
    return;
  }
  const double dt = std::max(1e-3, absl::ToDoubleSeconds(now - logins_last_));
  logins_last_ = now;
  const double rate = static_cast<double>(failures.total) / dt;
  DetectorResult r = logins_->Update(now, rate);
  logins_score_ = r.score;
  if (!r.alert) return;
  // The users tried most, first.
  std::vector<std::pair<std::string, int64_t>> users(failures.by_user.begin(),
                                                     failures.by_user.end());
  std::stable_sort(users.begin(), users.end(),
                   [](const auto& a, const auto& b) { return a.second > b.second; });
  std::vector<std::string> top;
  nlohmann::json users_json = nlohmann::json::object();
  for (size_t i = 0; i < users.size() && i < 5; ++i) {
    const std::string name = users[i].first.empty() ? "(unnamed)" : users[i].first;
    top.push_back(absl::StrCat(name, " (", FormatCount(users[i].second), ")"));
    users_json[name] = users[i].second;
  }
  SignalEvent ev;
  ev.kind = SignalKind::kFailedLogins;
  ev.severity = Severity::kError;
  ev.score = r.score;
  ev.time = now;
  const double baseline = std::isfinite(r.baseline) ? r.baseline : 0.0;
  ev.description = absl::StrFormat(
      "database %s: %s failed logins in %.1f s (%.0f/s; normal %.1f/s); users tried: %s", database,
      FormatCount(failures.total), dt, rate, baseline, absl::StrJoin(top, ", "));
  ev.figures = {{"failed_logins", failures.total},
                {"seconds", dt},
                {"rate", rate},
                {"baseline_rate", baseline},
                {"by_reason", failures.by_reason},
                {"top_users", users_json},
                {"score", r.score}};
  Emit(std::move(ev), out);
}

}  // namespace pgwarden
