#include "signals/change_watch.h"

#include <algorithm>
#include <cmath>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace pgwarden {

namespace {
// kMaxXidsPerTable bounds the xids kept as evidence of one table's drop.
constexpr size_t kMaxXidsPerTable = 20;
// kQuiet: a table with no deletes for this long starts a new evidence set.
constexpr absl::Duration kQuiet = absl::Seconds(10);
// kMaxRecent bounds the commits kept per table before a drop's first event.
constexpr size_t kMaxRecent = 64;
// kRecentEvaluations: commits seen this many evaluations ago are forgotten.
constexpr int64_t kRecentEvaluations = 8;

double Finite(double v) { return std::isfinite(v) ? v : 0.0; }
}  // namespace

const char* ChangeSourceName(ChangeSource source) {
  return source == ChangeSource::kStream ? "change_stream" : "statements";
}

ChangeWatch::ChangeWatch(ChangeSource source, DetectorFactories factories,
                         TargetWatch::Silencer silencer, ChangeWatchOptions options)
    : source_(source),
      factories_(std::move(factories)),
      silencer_(std::move(silencer)),
      options_(options) {}

void ChangeWatch::SyncTables(const Snapshot& snap) {
  absl::flat_hash_set<int64_t> present;
  present.reserve(snap.tables.size());
  for (const TableStat& t : snap.tables) {
    present.insert(t.oid);
    auto [it, inserted] = tables_.try_emplace(t.oid);
    State& st = it->second;
    st.stats_rows = t.live_rows;
    if (!inserted && st.schema == t.schema && st.table == t.name) continue;
    if (!inserted) by_name_.erase({st.schema, st.table});  // renamed
    st.schema = t.schema;
    st.table = t.name;
    by_name_[{t.schema, t.name}] = t.oid;
    if (!inserted) continue;
    st.level = static_cast<double>(t.live_rows);
    if (source_ == ChangeSource::kStream && factories_.rows) st.rows = factories_.rows->Create();
    if (factories_.delete_rate) st.delete_rate = factories_.delete_rate->Create();
    if (factories_.update_rate) {
      st.update_rate = std::make_unique<UpdateSpikeTracker>(
          factories_.update_rate->Create(), factories_.update_gate, options_.rate_window);
    }
  }
  for (auto it = tables_.begin(); it != tables_.end();) {
    if (present.contains(it->first)) {
      ++it;
      continue;
    }
    by_name_.erase({it->second.schema, it->second.table});
    tables_.erase(it++);
  }
}

void ChangeWatch::Rebaseline() {
  for (auto& [oid, st] : tables_) {
    st.level = static_cast<double>(st.stats_rows);
    st.pending_deleted = st.pending_inserted = 0;
    st.pending_truncate = false;
    st.window.clear();
    st.window_sum = 0;
    if (st.rows) st.rows->Reset();
    st.pending_updated = 0;
    st.pending_update_roles.clear();
  }
}

void ChangeWatch::ObserveSessions(absl::Time now, const std::vector<XidSession>& sessions) {
  for (const XidSession& s : sessions) {
    if (s.xid == 0) continue;
    if (xids_.insert_or_assign(s.xid, s).second) xid_order_.emplace_back(now, s.xid);
  }
  while (!xid_order_.empty() && (now - xid_order_.front().first > options_.xid_memory ||
                                 xid_order_.size() > options_.max_xids)) {
    xids_.erase(xid_order_.front().second);
    xid_order_.pop_front();
  }
}

ChangeWatch::State* ChangeWatch::Find(const std::string& schema, const std::string& table) {
  auto it = by_name_.find({schema, table});
  if (it == by_name_.end()) return nullptr;
  auto st = tables_.find(it->second);
  return st == tables_.end() ? nullptr : &st->second;
}

void ChangeWatch::AddEvidence(Evidence& ev, const Commit& c) {
  ev.deleted += c.deleted;
  if (c.xid != 0 && ev.xids.size() < kMaxXidsPerTable) ev.xids.push_back(c.xid);
  if (ev.first_lsn == 0 && c.lsn != 0) {
    ev.first_lsn = c.lsn;
    ev.first_time = c.time;
  }
  ev.rows_by_role[c.role.empty() ? std::string("(unknown)") : c.role] += c.deleted;
}

void ChangeWatch::Record(State& st, const TableChange& change, const CommittedTxn* txn) {
  st.pending_deleted += change.deleted;
  st.pending_inserted += change.inserted;
  st.pending_truncate = st.pending_truncate || change.truncated;
  RecordUpdates(st, change, txn);
  if (change.deleted == 0 && !change.truncated) return;
  Commit c;
  c.deleted = change.deleted;
  c.role = change.role;
  c.evaluation = evaluations_;
  if (txn != nullptr) {
    c.xid = txn->xid;
    c.lsn = txn->commit_lsn;
    c.time = txn->commit_time;
    auto seen = xids_.find(txn->xid);
    if (c.role.empty() && seen != xids_.end()) c.role = seen->second.role;
  }
  if (st.evidence.active) {
    AddEvidence(st.evidence, c);
    return;
  }
  st.recent.push_back(std::move(c));
  if (st.recent.size() > kMaxRecent) st.recent.erase(st.recent.begin());
}

void ChangeWatch::AddTransactions(const std::vector<CommittedTxn>& txns) {
  for (const CommittedTxn& txn : txns) {
    for (const TableChange& c : txn.tables) {
      if (State* st = Find(c.schema, c.table)) Record(*st, c, &txn);
    }
  }
}

void ChangeWatch::AddChanges(const std::vector<TableChange>& changes) {
  for (const TableChange& c : changes) {
    if (State* st = Find(c.schema, c.table)) Record(*st, c, nullptr);
  }
}

double ChangeWatch::delete_rate_score(int64_t oid) const {
  auto it = tables_.find(oid);
  return it == tables_.end() ? 0.0 : it->second.delete_rate_score;
}

void ChangeWatch::Evaluate(absl::Time now, WatchResult* out) {
  const double dt = last_eval_ == absl::InfinitePast()
                        ? absl::ToDoubleSeconds(options_.rate_window)
                        : std::max(1e-3, absl::ToDoubleSeconds(now - last_eval_));
  last_eval_ = now;
  ++evaluations_;
  for (auto& [oid, st] : tables_) {
    EvaluateTable(oid, st, now, dt, out);
    EvaluateUpdates(oid, st, now, dt, out);
  }
}

nlohmann::json ChangeWatch::EvidenceJson(const State& st) const {
  const Evidence& e = st.evidence;
  nlohmann::json j = {{"source", ChangeSourceName(source_)}, {"rows_deleted", e.deleted}};
  nlohmann::json roles = nlohmann::json::object();
  for (const auto& [role, rows] : e.rows_by_role) roles[role] = rows;
  j["rows_by_role"] = roles;
  if (source_ != ChangeSource::kStream) return j;
  j["xids"] = e.xids;
  if (e.first_lsn != 0) {
    j["first_commit_lsn"] = FormatLsn(e.first_lsn);
    j["first_commit_time"] =
        absl::FormatTime(absl::RFC3339_full, e.first_time, absl::UTCTimeZone());
  }
  nlohmann::json by = nlohmann::json::array();
  for (uint32_t xid : e.xids) {
    auto it = xids_.find(xid);
    if (it == xids_.end()) continue;
    const XidSession& s = it->second;
    by.push_back({{"xid", xid},
                  {"role", s.role},
                  {"pid", s.pid},
                  {"application", s.application},
                  {"client", s.client}});
  }
  j["committed_by"] = by;
  return j;
}

SignalEvent ChangeWatch::Event(SignalKind kind, int64_t oid, const State& st,
                               absl::Time now) const {
  SignalEvent ev;
  ev.kind = kind;
  ev.schema = st.schema;
  ev.table = st.table;
  ev.oid = oid;
  ev.time = now;
  ev.severity = kind == SignalKind::kDeleteSpike ? Severity::kError : Severity::kCritical;
  return ev;
}

void ChangeWatch::Emit(State& st, SignalEvent ev, WatchResult* out) {
  auto last = st.last_event.find(ev.kind);
  if (last != st.last_event.end() && ev.time - last->second < options_.min_event_spacing) return;
  st.last_event[ev.kind] = ev.time;
  st.last_event_time = ev.time;
  if (!st.evidence.active) {
    st.evidence = Evidence{};
    st.evidence.active = true;
    // The drop's commits, not the background churn of the same window.
    int64_t total = 0;
    for (const Commit& c : st.recent) total += c.deleted;
    const int64_t floor = std::max<int64_t>(1, total / 100);
    for (const Commit& c : st.recent) {
      if (c.deleted >= floor) AddEvidence(st.evidence, c);
    }
    st.recent.clear();
  }
  ev.figures["evidence"] = EvidenceJson(st);
  EmitUnlessSilenced(silencer_, std::move(ev), out);
}

void ChangeWatch::EmitTruncate(int64_t oid, State& st, int64_t inserted, absl::Time now,
                               WatchResult* out) {
  const double before = st.level;
  SignalEvent ev = Event(SignalKind::kTruncate, oid, st, now);
  ev.description =
      absl::StrFormat("table %s.%s was truncated (%s rows gone; committed, %s)", st.schema,
                      st.table, FormatCount(std::llround(before)), ChangeSourceName(source_));
  ev.figures = {{"rows_before", std::llround(before)}, {"rows_now", inserted}};
  Emit(st, std::move(ev), out);
  st.level = static_cast<double>(inserted);
  if (st.rows) st.rows->Reset();
  if (st.delete_rate) st.delete_rate->Reset();
  st.window.clear();
  st.window_sum = 0;
}

double ChangeWatch::SlideWindow(State& st, int64_t deleted, absl::Time now, double dt) const {
  if (deleted > 0) {
    st.window.emplace_back(now, deleted);
    st.window_sum += deleted;
  }
  size_t expired = 0;
  while (expired < st.window.size() && now - st.window[expired].first >= options_.rate_window) {
    st.window_sum -= st.window[expired].second;
    ++expired;
  }
  st.window.erase(st.window.begin(), st.window.begin() + static_cast<std::ptrdiff_t>(expired));
  const double span = std::max(dt, absl::ToDoubleSeconds(options_.rate_window));
  return static_cast<double>(st.window_sum) / span;
}

void ChangeWatch::EvaluateTable(int64_t oid, State& st, absl::Time now, double dt,
                                WatchResult* out) {
  const int64_t deleted = st.pending_deleted;
  const int64_t inserted = st.pending_inserted;
  const bool truncated = st.pending_truncate;
  st.pending_deleted = st.pending_inserted = 0;
  st.pending_truncate = false;
  if (truncated) {
    EmitTruncate(oid, st, inserted, now, out);
    return;
  }
  const double rate = SlideWindow(st, deleted, now, dt);
  st.churn.Observe(
      now, inserted, deleted,
      st.rows ? std::max(0.0, st.level + static_cast<double>(inserted - deleted)) : -1);
  if (st.delete_rate) {
    DetectorResult r = st.delete_rate->Update(now, rate);
    st.delete_rate_score = r.score;
    if (r.alert && deleted > 0) {
      SignalEvent ev = Event(SignalKind::kDeleteSpike, oid, st, now);
      ev.score = r.score;
      ev.description = absl::StrFormat(
          "table %s.%s: committed deletes jumped to %s rows/s (normal %s rows/s; %s)", st.schema,
          st.table, FormatCount(std::llround(rate)), FormatCount(std::llround(Finite(r.baseline))),
          ChangeSourceName(source_));
      ev.figures = {{"delete_rate_per_s", rate},
                    {"delete_rate_baseline", Finite(r.baseline)},
                    {"deleted_in_interval", st.window_sum},
                    {"score", r.score}};
      if (st.churn.Normal()) {
        out->suppressed.emplace_back(std::move(ev), st.churn.Reason());
      } else {
        Emit(st, std::move(ev), out);
      }
    }
  }
  if (st.rows) {
    st.level = std::max(0.0, st.level + static_cast<double>(inserted - deleted));
    DetectorResult r = st.rows->Update(now, st.level);
    if (r.alert && deleted > 0) {
      const double base =
          std::isfinite(r.baseline) && r.baseline > st.level ? r.baseline : st.level;
      const int64_t lost = std::llround(base - st.level);
      SignalEvent ev = Event(SignalKind::kRowLoss, oid, st, now);
      ev.score = r.score;
      ev.description = absl::StrFormat(
          "table %s.%s lost %s of %s rows (%.1f%%); deleting at %s rows/s (committed, %s)",
          st.schema, st.table, FormatCount(lost), FormatCount(std::llround(base)),
          base > 0 ? 100.0 * static_cast<double>(lost) / base : 0.0,
          FormatCount(std::llround(rate)), ChangeSourceName(source_));
      ev.figures = {{"rows_baseline", std::llround(base)},
                    {"rows_now", std::llround(st.level)},
                    {"rows_lost", lost},
                    {"deleted_in_interval", st.window_sum},
                    {"delete_rate_per_s", rate},
                    {"score", r.score}};
      if (st.churn.Normal()) {
        out->suppressed.emplace_back(std::move(ev), st.churn.Reason());
      } else {
        Emit(st, std::move(ev), out);
      }
    }
  }
  // Commits older than the rate window cannot have started a drop that
  // fires now; a drop whose table has been quiet is over.
  size_t old = 0;
  while (old < st.recent.size() && evaluations_ - st.recent[old].evaluation > kRecentEvaluations) {
    ++old;
  }
  st.recent.erase(st.recent.begin(), st.recent.begin() + static_cast<std::ptrdiff_t>(old));
  if (st.evidence.active && now - st.last_event_time > kQuiet) st.evidence = Evidence{};
}

void ChangeWatch::RecordUpdates(State& st, const TableChange& change,
                                const CommittedTxn* txn) const {
  if (change.updated <= 0 || !st.update_rate) return;
  st.pending_updated += change.updated;
  std::string role = change.role;
  if (txn != nullptr) {
    auto seen = xids_.find(txn->xid);
    if (seen != xids_.end()) {
      if (role.empty()) role = seen->second.role;
      if (st.update_sessions.size() >= kMaxXidsPerTable) st.update_sessions.clear();
      st.update_sessions[seen->second.role] = seen->second;
    }
  }
  st.pending_update_roles[role.empty() ? std::string("(unknown)") : role] += change.updated;
}

void ChangeWatch::EvaluateUpdates(int64_t oid, State& st, absl::Time now, double dt,
                                  WatchResult* out) {
  if (!st.update_rate) return;
  const int64_t updated = st.pending_updated;
  std::map<std::string, int64_t> roles;
  roles.swap(st.pending_update_roles);
  st.pending_updated = 0;
  const UpdateVerdict v = st.update_rate->Observe(now, updated, dt, st.stats_rows, roles);
  if (!v.fire) return;
  auto last = st.last_event.find(SignalKind::kUpdateSpike);
  if (last != st.last_event.end() && now - last->second < options_.min_event_spacing) return;
  st.last_event[SignalKind::kUpdateSpike] = now;
  SignalEvent ev = UpdateSpikeEvent(st.schema, st.table, oid, v, ChangeSourceName(source_), now);
  // The burst's rows per role (and, from the stream, who committed them),
  // as commit-time evidence for attribution.
  nlohmann::json by_role = nlohmann::json::object();
  nlohmann::json by = nlohmann::json::array();
  for (const auto& [role, rows] : st.update_rate->rows_by_role()) {
    by_role[role] = rows;
    auto s = st.update_sessions.find(role);
    if (s == st.update_sessions.end()) continue;
    by.push_back({{"xid", s->second.xid},
                  {"role", role},
                  {"pid", s->second.pid},
                  {"application", s->second.application},
                  {"client", s->second.client}});
  }
  ev.figures["evidence"] = {{"source", ChangeSourceName(source_)},
                            {"verb", "updated"},
                            {"rows_updated", v.burst_rows},
                            {"rows_by_role", by_role},
                            {"committed_by", by}};
  EmitUnlessSilenced(silencer_, std::move(ev), out);
}

}  // namespace pgwarden
