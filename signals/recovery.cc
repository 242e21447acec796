#include "signals/recovery.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"

namespace pgwarden {
namespace {

// A tick's change counts as usual while it is at most kUsualFactor times
// the table's usual per-tick change (and at most kUsualFloor rows anyway).
constexpr double kUsualFloor = 5;
constexpr double kUsualFactor = 4;
constexpr double kUsualAlpha = 0.1;
// A burst whose newest transaction (server clock) or tick is older than
// this is not the one paged.
constexpr absl::Duration kRecent = absl::Seconds(60);

bool Beyond(int64_t delta, double usual) {
  return static_cast<double>(delta) > std::max(kUsualFloor, kUsualFactor * usual);
}

int64_t IntOr(const nlohmann::json& j, const char* key, int64_t fallback) {
  return j.contains(key) && j[key].is_number() ? j[key].get<int64_t>() : fallback;
}

// RowsAt is the rows a destructive signal says were removed (or rewritten,
// for an update spike); 0 when it does not say.
int64_t RowsAt(const SignalEvent& ev) {
  const nlohmann::json& f = ev.figures;
  if (ev.kind == SignalKind::kUpdateSpike) return IntOr(f, "updated_in_burst", 0);
  const int64_t before = std::max(IntOr(f, "rows_before", -1), IntOr(f, "rows_baseline", -1));
  const int64_t now = IntOr(f, "rows_now", -1);
  return before >= 0 && now >= 0 && before > now ? before - now : 0;
}

std::string TableOf(const SignalEvent& ev) {
  if (ev.figures.contains("partition") && ev.figures["partition"].is_string()) {
    return ev.figures["partition"].get<std::string>();
  }
  return absl::StrCat(ev.schema, ".", ev.table);
}

}  // namespace

nlohmann::json RecoveryPoint::ToJson() const {
  nlohmann::json j = {{"target_lsn", FormatLsn(lsn)},
                      {"target_time", nullptr},
                      {"first_destructive_xid", nullptr},
                      {"exact", exact},
                      {"basis", basis}};
  if (time != absl::InfinitePast()) {
    j["target_time"] = absl::FormatTime("%Y-%m-%d %H:%M:%E6S+00", time, absl::UTCTimeZone());
  }
  if (xid != 0) j["first_destructive_xid"] = xid;
  if (!note.empty()) j["note"] = note;
  return j;
}

bool EarlierRecovery(const nlohmann::json& a, const nlohmann::json& b) {
  uint64_t la = 0;
  uint64_t lb = 0;
  if (!b.is_object() || !b.contains("target_lsn") || !b["target_lsn"].is_string() ||
      !ParseLsn(b["target_lsn"].get<std::string>(), &lb)) {
    return true;
  }
  if (!a.is_object() || !a.contains("target_lsn") || !a["target_lsn"].is_string() ||
      !ParseLsn(a["target_lsn"].get<std::string>(), &la)) {
    return false;
  }
  return la < lb;
}

void RecoveryTracker::ObserveSample(const Snapshot& snap) {
  if (snap.wal_lsn != 0) ring_.push_back(Tick{snap.time, snap.server_time, snap.wal_lsn});
  while (!ring_.empty() && ring_.front().time < snap.time - options_.ring_age) ring_.pop_front();
  for (const TableStat& t : snap.tables) {
    TableState& st = tables_[absl::StrCat(t.schema, ".", t.name)];
    const int64_t dd = t.deleted - st.deleted;
    const int64_t du = t.updated - st.updated;
    const bool reset = st.deleted < 0 || dd < 0 || du < 0;
    const bool rewritten = !reset && t.relfilenode != st.relfilenode;
    if (!reset && (rewritten || Beyond(dd, st.usual_deleted) || Beyond(du, st.usual_updated))) {
      st.moves.push_back(Move{snap.time, dd, du, rewritten});
      if (rewritten) st.moves.back().deleted = std::max(dd, st.live);
      if (st.moves.size() > options_.max_moves) {
        st.moves.erase(st.moves.begin());
        st.forgot = true;
      }
    } else if (!reset) {
      st.usual_deleted += kUsualAlpha * (static_cast<double>(dd) - st.usual_deleted);
      st.usual_updated += kUsualAlpha * (static_cast<double>(du) - st.usual_updated);
    }
    st.deleted = t.deleted;
    st.updated = t.updated;
    st.relfilenode = t.relfilenode;
    st.live = t.live_rows;
    st.seen = snap.time;
  }
  absl::erase_if(tables_,
                 [&](const auto& kv) { return kv.second.seen < snap.time - options_.ring_age; });
}

void RecoveryTracker::ObserveTxns(const std::vector<CommittedTxn>& txns) {
  for (const CommittedTxn& txn : txns) {
    for (const TableChange& c : txn.tables) {
      if (c.deleted == 0 && c.updated == 0 && !c.truncated) continue;
      TableTxns& tt = txns_[absl::StrCat(c.schema, ".", c.table)];
      tt.txns.push_back(
          Txn{txn.xid, txn.last_change_lsn, txn.commit_time, c.deleted, c.updated, c.truncated});
      if (tt.txns.size() > options_.max_txns) {
        tt.txns.erase(tt.txns.begin());
        tt.forgot = true;
      }
    }
  }
  if (ring_.empty()) return;
  const absl::Time now = ring_.back().server_time;
  absl::erase_if(txns_, [&](const auto& kv) {
    return kv.second.txns.empty() || kv.second.txns.back().commit_time < now - options_.ring_age;
  });
}

absl::optional<RecoveryPoint> RecoveryTracker::FromStream(const std::string& table, bool updates,
                                                          int64_t rows) const {
  auto it = txns_.find(table);
  if (it == txns_.end() || ring_.empty()) return absl::nullopt;
  const std::vector<Txn>& txns = it->second.txns;
  const Txn* first = nullptr;
  int64_t sum = 0;
  for (auto t = txns.rbegin(); t != txns.rend(); ++t) {
    const int64_t removed =
        updates ? t->updated : (t->truncated ? std::max<int64_t>(rows, 1) : t->deleted);
    if (removed == 0) continue;
    if (first == nullptr && t->commit_time < ring_.back().server_time - kRecent) break;
    if (first != nullptr && first->commit_time - t->commit_time > options_.burst_gap &&
        sum >= rows) {
      break;
    }
    sum += removed;
    first = &*t;
  }
  if (first == nullptr) return absl::nullopt;
  // Walked past the oldest remembered one without covering the loss: the
  // burst began before what is remembered.
  if (sum < rows && it->second.forgot) return absl::nullopt;
  RecoveryPoint p;
  p.lsn = first->lsn;
  p.time = first->commit_time;
  p.xid = first->xid;
  p.exact = true;
  p.basis = "change_stream";
  return p;
}

RecoveryPoint RecoveryTracker::FromTicks(absl::Time first_seen, std::string note) const {
  RecoveryPoint p;
  p.basis = "statistics";
  p.note = std::move(note);
  // The tick before the damage was first seen, less the publication delay.
  absl::Time before = first_seen;
  for (auto t = ring_.rbegin(); t != ring_.rend(); ++t) {
    if (t->time < first_seen) {
      before = t->time;
      break;
    }
  }
  before -= options_.stats_lag;
  const Tick* pick = nullptr;
  for (auto t = ring_.rbegin(); t != ring_.rend(); ++t) {
    if (t->time <= before) {
      pick = &*t;
      break;
    }
  }
  if (pick == nullptr) {
    pick = &ring_.front();
    if (p.note.empty()) {
      p.note = "the agent's WAL positions do not reach back far enough: the oldest known is used";
    }
  }
  p.lsn = pick->lsn;
  p.time = pick->server_time;
  return p;
}

absl::optional<RecoveryPoint> RecoveryTracker::For(const SignalEvent& ev) const {
  if (!IsDestructive(ev.kind) || ring_.empty()) return absl::nullopt;
  const std::string table = TableOf(ev);
  const bool updates = ev.kind == SignalKind::kUpdateSpike;
  const int64_t rows = RowsAt(ev);
  if (auto p = FromStream(table, updates, rows)) return p;
  absl::Time first_seen = ev.time;
  std::string note;
  auto it = tables_.find(table);
  if (it != tables_.end()) {
    int64_t sum = 0;
    const Move* first = nullptr;
    for (auto m = it->second.moves.rbegin(); m != it->second.moves.rend(); ++m) {
      const int64_t removed =
          m->rewritten ? std::max(m->deleted, rows) : (updates ? m->updated : m->deleted);
      if (removed == 0) continue;
      if (first == nullptr && m->time < ev.time - kRecent) break;
      if (first != nullptr && first->time - m->time > options_.burst_gap && sum >= rows) break;
      sum += removed;
      first = &*m;
    }
    if (first != nullptr) first_seen = std::min(first_seen, first->time);
    if (sum < rows && it->second.forgot) {
      note = "the damage began before the oldest tick remembered for the table";
    }
  }
  if (ev.kind == SignalKind::kDestructiveDdl) {
    first_seen = std::min(first_seen, ev.time - options_.ddl_lookback);
  }
  RecoveryPoint p = FromTicks(first_seen, std::move(note));
  if (ev.kind == SignalKind::kDestructiveInFlight) p.basis = "in_flight";
  return p;
}

void RecoveryTracker::Annotate(std::vector<SignalEvent>* events, const nlohmann::json& archive) {
  for (const SignalEvent& ev : *events) {
    if (ev.kind == SignalKind::kCoverageGap) StreamGap();
  }
  for (SignalEvent& ev : *events) {
    absl::optional<RecoveryPoint> p = For(ev);
    if (!p) continue;
    nlohmann::json j = p->ToJson();
    if (!archive.is_null()) j["wal_archive"] = archive;
    if (ev.kind == SignalKind::kTruncate || ev.kind == SignalKind::kDropTable) {
      j["journal"] =
          "a TRUNCATE or DROP is not journalled row by row: restore from the "
          "recovery point";
    }
    ev.figures["recovery"] = std::move(j);
  }
}

}  // namespace pgwarden
