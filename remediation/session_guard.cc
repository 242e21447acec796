#include "remediation/session_guard.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/types/optional.h"
#include "remediation/session_rows.h"

namespace pgwarden {
namespace {

// $1: watched relations as a regclass[] (quoted by the library). Column 13
// lists "schema.table=Mode" for each granted relation lock on them.
bool Contains(const std::vector<std::string>& list, const std::string& v) {
  return std::find(list.begin(), list.end(), v) != list.end();
}

constexpr char kRowExclusiveHeld[] = "uncommitted writes (RowExclusiveLock held)";

// FindDestructive: the session's visible statement is a DELETE or UPDATE
// without WHERE, a TRUNCATE or a DROP of a watched table.
absl::optional<SessionFinding> FindDestructive(const SessionRow& r,
                                               const std::vector<TableRef>& watched,
                                               const RemediationConfig& config) {
  for (const TableWrite& w : FindTableWrites(r.info.query)) {
    const bool destructive =
        w.verb == WriteVerb::kTruncate || w.verb == WriteVerb::kDrop || !w.has_where;
    if (!destructive) continue;
    const TableRef* hit = nullptr;
    for (const TableRef& t : watched) {
      if (RefersTo(w.table, t.schema, t.table)) hit = &t;
    }
    if (hit == nullptr) continue;
    SessionFinding f;
    f.kind = FindingKind::kDestructiveInFlight;
    f.table = *hit;
    f.statement = WriteVerbName(w.verb);
    if (w.verb == WriteVerb::kDelete || w.verb == WriteVerb::kUpdate) {
      absl::StrAppend(&f.statement, " without WHERE");
    }
    f.seconds = r.info.xact_age_seconds;
    f.allowed = Contains(config.inflight.allowed_roles, r.info.role);
    f.session = r.info;
    f.session.writes.push_back(f.statement);
    return f;
  }
  return absl::nullopt;
}

// FindDestructiveDdl: the session's visible statement is an ALTER TABLE
// that drops a column or changes a column's type on a watched table, and it
// waits for or holds that table's AccessExclusiveLock.
absl::optional<SessionFinding> FindDestructiveDdl(const SessionRow& r,
                                                  const std::vector<TableRef>& watched,
                                                  const RemediationConfig& config) {
  for (const TableAlter& a : FindDestructiveAlters(r.info.query)) {
    for (const TableRef& t : watched) {
      if (!RefersTo(a.table, t.schema, t.table)) continue;
      const std::string rel = absl::StrCat(t.schema, ".", t.table);
      bool exclusive = Contains(r.waiting_exclusive, rel);
      for (const auto& [lrel, mode] : r.locks) {
        exclusive = exclusive || (lrel == rel && mode == "AccessExclusiveLock");
      }
      if (!exclusive) continue;
      SessionFinding f;
      f.kind = FindingKind::kDestructiveDdl;
      f.table = t;
      f.statement =
          absl::StrCat("ALTER TABLE ... ", a.what,
                       Contains(r.waiting_exclusive, rel) ? " (waiting for its lock)" : "");
      f.seconds = r.info.query_age_seconds;
      f.allowed = Contains(config.inflight.allowed_roles, r.info.role);
      f.session = r.info;
      f.session.writes.push_back(absl::StrCat("ALTER TABLE ", a.what));
      return f;
    }
  }
  return absl::nullopt;
}

// FindLockOnly: locks alone: writes (or TRUNCATE / DROP / ALTER) earlier in
// a transaction that is still open, the statement no longer visible.
absl::optional<SessionFinding> FindLockOnly(const SessionRow& r, const RemediationConfig& config) {
  for (const auto& [rel, mode] : r.locks) {
    if (mode != "RowExclusiveLock" && mode != "AccessExclusiveLock") continue;
    const size_t dot = rel.find('.');
    SessionFinding f;
    f.kind = FindingKind::kDestructiveInFlight;
    f.table = TableRef{rel.substr(0, dot), rel.substr(dot + 1)};
    f.statement = mode == "AccessExclusiveLock"
                      ? "uncommitted TRUNCATE, DROP or ALTER (AccessExclusiveLock held)"
                      : kRowExclusiveHeld;
    f.certain = false;
    f.seconds = r.info.xact_age_seconds;
    f.allowed = Contains(config.inflight.allowed_roles, r.info.role);
    f.session = r.info;
    return f;
  }
  return absl::nullopt;
}

// FindRunaway appends the runaway findings of one session.
void FindRunaway(const SessionRow& r,
                 const std::map<int, std::pair<std::vector<int>, double>>& blocking,
                 const RunawayConfig& config, std::vector<SessionFinding>* out) {
  const double idle_limit = absl::ToDoubleSeconds(config.idle_in_transaction);
  const double stmt_limit = absl::ToDoubleSeconds(config.statement);
  const double block_limit = absl::ToDoubleSeconds(config.blocking);
  auto add = [&](FindingKind kind, double seconds) -> SessionFinding& {
    SessionFinding f;
    f.kind = kind;
    f.seconds = seconds;
    f.session = r.info;
    out->push_back(std::move(f));
    return out->back();
  };
  if (absl::StartsWith(r.info.state, "idle in transaction") && r.state_age > idle_limit) {
    add(FindingKind::kIdleInTransaction, r.state_age);
  }
  if (r.info.state == "active" && r.info.query_age_seconds > stmt_limit) {
    add(FindingKind::kLongStatement, r.info.query_age_seconds);
  }
  auto it = blocking.find(r.info.pid);
  if (it != blocking.end() && it->second.second > block_limit) {
    add(FindingKind::kBlocking, it->second.second).blocked_pids = it->second.first;
  }
}

}  // namespace

const char* FindingKindName(FindingKind kind) {
  switch (kind) {
    case FindingKind::kDestructiveInFlight:
      return "destructive_in_flight";
    case FindingKind::kIdleInTransaction:
      return "idle_in_transaction";
    case FindingKind::kLongStatement:
      return "long_statement";
    case FindingKind::kBlocking:
      return "blocking";
    case FindingKind::kDestructiveDdl:
      return "destructive_ddl";
  }
  return "?";
}

nlohmann::json SessionFinding::ToJson() const {
  nlohmann::json actions_json = nlohmann::json::array();
  for (const ActionRecord& a : actions) actions_json.push_back(a.ToJson());
  nlohmann::json j = {{"kind", FindingKindName(kind)},
                      {"session", session.ToJson()},
                      {"backend_start", backend_start},
                      {"seconds", seconds},
                      {"allowed", allowed},
                      {"certain", certain},
                      {"actions", actions_json}};
  if (table_rows > 0) {
    j["uncommitted_rows"] = uncommitted_rows;
    j["table_rows"] = table_rows;
  }
  if (!table.table.empty()) {
    j["schema"] = table.schema;
    j["table"] = table.table;
    j["statement"] = statement;
  }
  if (!blocked_pids.empty()) j["blocked_pids"] = blocked_pids;
  if (!window.empty()) j["maintenance_window"] = window;
  return j;
}

std::string SessionFinding::Summary() const {
  std::string what;
  switch (kind) {
    case FindingKind::kDestructiveInFlight:
    case FindingKind::kDestructiveDdl:
      what = absl::StrCat(statement, " on ", table.schema, ".", table.table, " in flight");
      break;
    case FindingKind::kIdleInTransaction:
      what = absl::StrFormat("idle in transaction for %.0fs", seconds);
      break;
    case FindingKind::kLongStatement:
      what = absl::StrFormat("statement running for %.0fs", seconds);
      break;
    case FindingKind::kBlocking:
      what =
          absl::StrFormat("blocking pids %s for %.0fs", absl::StrJoin(blocked_pids, ","), seconds);
      break;
  }
  return absl::StrFormat("%s: role %s (application \"%s\", client %s, pid %d)%s", what,
                         session.role, session.application, session.client, session.pid,
                         allowed ? " [allowed role]" : "");
}

SessionGuard::SessionGuard(const RemediationConfig& config, Remediator* remediator,
                           const Clock* clock)
    : config_(config), remediator_(remediator), clock_(clock) {}

absl::StatusOr<std::vector<SessionFinding>> SessionGuard::Check(
    pg::Session& conn, const std::string& target, const std::vector<TableRef>& watched,
    const WindowOf& window) {
  std::vector<SessionFinding> findings;
  if (!config_.inflight.enabled && !config_.runaway.enabled) return findings;
  if (config_.inflight.enabled) CheckPrivileges(conn, target, watched);
  absl::StatusOr<std::vector<SessionRow>> read = ReadSessions(conn, watched);
  if (!read.ok()) return read.status();
  const std::vector<SessionRow>& rows = *read;

  // Who blocks whom, and for how long the longest waiter has waited.
  std::map<int, std::pair<std::vector<int>, double>> blocking;
  for (const SessionRow& r : rows) {
    for (int blocker : r.blockers) {
      auto& entry = blocking[blocker];
      entry.first.push_back(r.info.pid);
      entry.second = std::max(entry.second, r.info.query_age_seconds);
    }
  }

  std::set<Key> seen;
  for (const SessionRow& r : rows) {
    const bool in_xact = r.info.xact_age_seconds >= 0;
    const bool aborted = r.info.state == "idle in transaction (aborted)";
    std::vector<SessionFinding> mine;
    if (config_.inflight.enabled && in_xact && !aborted) {
      absl::optional<SessionFinding> f = FindDestructive(r, watched, config_);
      if (!f) f = FindDestructiveDdl(r, watched, config_);
      if (!f && r.info.xact_age_seconds >= kUncertainMinAgeSeconds) {
        f = FindLockOnly(r, config_);
        if (f && f->statement == kRowExclusiveHeld && !r.backend_xid.empty() &&
            !Unreadable(f->table)) {
          // Measure what the open transaction has removed or rewritten: a
          // mass write not yet committed is as destructive as a DELETE
          // without WHERE, and is acted on like one.
          ApplyMeasurement(MeasureUncommitted(conn, Key{r.info.pid, r.backend_start, r.xact_raw},
                                              f->table, r.backend_xid),
                           &*f);
        }
      }
      if (f) mine.push_back(*std::move(f));
    }
    if (config_.runaway.enabled) FindRunaway(r, blocking, config_.runaway, &mine);
    if (mine.empty()) continue;
    for (SessionFinding& f : mine) {
      f.backend_start = r.backend_start;
      if (window && !f.table.table.empty()) f.window = window(f.table);
    }
    seen.insert(Key{r.info.pid, r.backend_start, r.xact_raw});
    // One enforcement sequence per backend and transaction, on the first
    // finding that may be acted on.
    for (SessionFinding& f : mine) {
      if (f.allowed || !f.certain || !f.window.empty()) continue;
      std::vector<TableRef> tables;
      if (!f.table.table.empty()) tables.push_back(f.table);
      Enforce(conn, target, r.xact_raw, &f, tables);
      break;
    }
    for (SessionFinding& f : mine) findings.push_back(std::move(f));
  }
  for (auto it = steps_.begin(); it != steps_.end();) {
    it = seen.count(it->first) ? std::next(it) : steps_.erase(it);
  }
  for (auto it = measured_.begin(); it != measured_.end();) {
    it = seen.count(std::get<0>(it->first)) ? std::next(it) : measured_.erase(it);
  }
  return findings;
}

const SessionGuard::UncommittedWrites& SessionGuard::MeasureUncommitted(pg::Session& conn,
                                                                        const Key& key,
                                                                        const TableRef& table,
                                                                        const std::string& xid) {
  UncommittedWrites& u = measured_[{key, table.schema, table.table}];
  const absl::Time now = clock_->Now();
  // One scan per transaction and table every kRemeasureEvery at most; a
  // mass write, once seen, stays seen.
  if (u.certain_once || now - u.at < kRemeasureEvery) return u;
  u.at = now;
  // No SELECT on the table, or too big to count in time: stays uncertain.
  u.ok = false;
  const std::string rel = conn.QualifiedName(table.schema, table.table);
  // A big table is sampled (TABLESAMPLE SYSTEM, about kExactCountRows rows)
  // and the share scaled to its planner estimate: a bounded read each time.
  absl::StatusOr<pg::Result> est = conn.Execute(
      "SELECT greatest(c.reltuples, 0)::bigint FROM pg_class c "
      "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2",
      kMeasureTimeout, {table.schema, table.table});
  if (!est.ok() || est->empty()) return u;
  const int64_t estimate = (*est)[0].Int(0);
  std::string from = absl::StrCat("ONLY ", rel);
  const bool sampled = estimate > kExactCountRows;
  if (sampled) {
    const double percent = std::max(0.01, 100.0 * kExactCountRows / static_cast<double>(estimate));
    absl::StrAppend(&from, absl::StrFormat(" TABLESAMPLE SYSTEM (%.4f)", percent));
  }
  // Row versions the transaction deleted or replaced are still visible to
  // other snapshots, with xmax = its xid.
  absl::StatusOr<pg::Result> count = conn.Execute(
      absl::StrCat("SELECT count(*) FILTER (WHERE xmax = $1::xid), count(*) FROM ", from),
      kMeasureTimeout, {xid});
  if (!count.ok() || count->empty()) return u;
  const int64_t hits = (*count)[0].Int(0);
  const int64_t seen = (*count)[0].Int(1);
  u.ok = true;
  u.sampled = sampled;
  u.table_rows = sampled ? std::max(estimate, seen) : seen;
  u.rows = sampled && seen > 0 ? static_cast<int64_t>(std::llround(
                                     static_cast<double>(hits) * static_cast<double>(u.table_rows) /
                                     static_cast<double>(seen)))
                               : hits;
  u.certain_once =
      u.rows >= config_.min_rows &&
      static_cast<double>(u.rows) >= kMassWriteShare * static_cast<double>(u.table_rows);
  return u;
}

void SessionGuard::CheckPrivileges(pg::Session& conn, const std::string& target,
                                   const std::vector<TableRef>& watched) {
  const absl::Time now = clock_->Now();
  if (now - privileges_at_ < kPrivilegesEvery && watched.size() == privileges_watched_) return;
  privileges_at_ = now;
  privileges_watched_ = watched.size();
  absl::StatusOr<std::vector<ObjectError>> found = FindUnreadable(conn, watched);
  if (!found.ok()) return;  // the sessions query reports a lost connection
  unreadable_ = *found;
  ObjectErrors::Get().Update(target, *std::move(found));
}

bool SessionGuard::Unreadable(const TableRef& table) const {
  for (const ObjectError& e : unreadable_) {
    for (const TableRef& t : e.tables) {
      if (t.schema == table.schema && t.table == table.table) return true;
    }
  }
  return false;
}

void SessionGuard::ApplyMeasurement(const UncommittedWrites& u, SessionFinding* f) {
  if (!u.ok || u.rows <= 0) return;
  f->uncommitted_rows = u.rows;
  f->table_rows = u.table_rows;
  f->statement = absl::StrFormat("uncommitted DELETE or UPDATE of %s%d of %s%d rows",
                                 u.sampled ? "~" : "", u.rows, u.sampled ? "~" : "", u.table_rows);
  f->certain = u.certain_once;  // a mass write (decided where it was measured)
}

void SessionGuard::Enforce(pg::Session& conn, const std::string& target,
                           const std::string& xact_raw, SessionFinding* finding,
                           const std::vector<TableRef>& tables) {
  if (remediator_ == nullptr || config_.mode == RemediationMode::kOff) return;
  Step& step = steps_[Key{finding->session.pid, finding->backend_start, xact_raw}];
  if (step.done) return;
  const bool idle = absl::StartsWith(finding->session.state, "idle");
  SessionActionRequest req;
  req.incident_id =
      absl::StrCat(target, "/", FindingKindName(finding->kind), "/", finding->session.pid);
  req.target = target;
  req.pid = finding->session.pid;
  req.role = finding->session.role;
  req.backend_start = finding->backend_start;
  req.why = finding->Summary();
  req.tables = tables;
  const absl::Time now = clock_->Now();
  if (!idle && !step.cancelled) {
    // A cancel stops the running statement; its transaction rolls back.
    req.terminate = false;
    ActionRecord rec = remediator_->ActOnSession(conn, req);
    step.cancelled = true;
    step.cancelled_at = now;
    if (rec.result != ActionResult::kDone) step.done = true;
    finding->actions.push_back(std::move(rec));
    return;
  }
  // Idle in a transaction a cancel does nothing; or the cancel did not help.
  if (idle || now - step.cancelled_at >= config_.cancel_grace) {
    req.terminate = true;
    finding->actions.push_back(remediator_->ActOnSession(conn, req));
    step.done = true;
  }
}

}  // namespace pgwarden
