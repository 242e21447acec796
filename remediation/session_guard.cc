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

namespace pgwarden {
namespace {

// $1: watched relations as a regclass[] (quoted by the library). Column 13
// lists "schema.table=Mode" for each granted relation lock on them.
constexpr char kSessionsSqlHead[] =
    "SELECT a.pid, coalesce(a.usename::text, ''), coalesce(a.application_name, ''), "
    "  coalesce(host(a.client_addr), 'local'), coalesce(a.state, ''), "
    "  left(coalesce(a.query, ''), 2000), a.backend_start::text, coalesce(a.xact_start::text, ''), "
    "  coalesce(to_char(a.xact_start AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), "
    "''), "
    "  coalesce(extract(epoch FROM clock_timestamp() - a.xact_start)::float8, -1), "
    "  coalesce(extract(epoch FROM clock_timestamp() - a.query_start)::float8, -1), "
    "  coalesce(extract(epoch FROM clock_timestamp() - a.state_change)::float8, -1), "
    "  CASE WHEN a.wait_event_type = 'Lock' THEN pg_blocking_pids(a.pid)::text ELSE '' END, "
    "  coalesce((SELECT string_agg(n.nspname || '.' || c.relname || '=' || l.mode, ',') "
    "            FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
    "            JOIN pg_namespace n ON n.oid = c.relnamespace "
    "            WHERE l.pid = a.pid AND l.locktype = 'relation' AND l.granted "
    "              AND l.relation = ANY(";
constexpr char kSessionsSqlTail[] =
    ")), ''), coalesce(a.backend_xid::text, '') "
    "FROM pg_stat_activity a "
    "WHERE a.backend_type = 'client backend' AND a.pid <> pg_backend_pid() "
    "  AND a.datname = current_database() "
    "ORDER BY a.pid";

struct Row {
  SessionInfo info;
  std::string backend_start;
  std::string xact_raw;
  std::string backend_xid;  // "" when the transaction has not written yet
  double state_age = -1;
  std::vector<int> blockers;
  std::vector<std::pair<std::string, std::string>> locks;  // "schema.table", mode
};

std::vector<int> ParseIntArray(const std::string& text) {
  std::vector<int> out;
  absl::string_view s = text;
  if (!absl::ConsumePrefix(&s, "{") || !absl::ConsumeSuffix(&s, "}")) return out;
  for (absl::string_view part : absl::StrSplit(s, ',', absl::SkipEmpty())) {
    int v = 0;
    if (absl::SimpleAtoi(part, &v)) out.push_back(v);
  }
  return out;
}

bool Contains(const std::vector<std::string>& list, const std::string& v) {
  return std::find(list.begin(), list.end(), v) != list.end();
}

Row ParseRow(const pg::Row& r) {
  Row row;
  row.info.pid = static_cast<int>(r.Int(0));
  row.info.role = r.Text(1);
  row.info.application = r.Text(2);
  row.info.client = r.Text(3);
  row.info.state = r.Text(4);
  row.info.query = r.Text(5);
  row.backend_start = r.Text(6);
  row.xact_raw = r.Text(7);
  row.info.xact_start = r.Text(8);
  row.info.xact_age_seconds = r.Double(9);
  row.info.query_age_seconds = r.Double(10);
  row.state_age = r.Double(11);
  row.blockers = ParseIntArray(r.Text(12));
  row.backend_xid = r.Text(14);
  for (absl::string_view item : absl::StrSplit(r.Text(13), ',', absl::SkipEmpty())) {
    const size_t eq = item.rfind('=');
    if (eq == absl::string_view::npos) continue;
    row.locks.emplace_back(std::string(item.substr(0, eq)), std::string(item.substr(eq + 1)));
  }
  for (const auto& [rel, mode] : row.locks) {
    if (!row.info.lock_modes.empty()) row.info.lock_modes += ",";
    absl::StrAppend(&row.info.lock_modes, rel, "=", mode);
  }
  return row;
}

// ReadSessions reads every client backend of the database (one query), with
// its granted locks on the watched tables.
absl::StatusOr<std::vector<Row>> ReadSessions(pg::Session& conn,
                                              const std::vector<TableRef>& watched) {
  // Watched tables that exist, as a regclass array built from quoted names.
  std::vector<std::string> regs;
  regs.reserve(watched.size());
  for (const TableRef& t : watched) {
    regs.push_back(
        absl::StrCat("to_regclass(", conn.Quote(conn.QualifiedName(t.schema, t.table)), ")"));
  }
  const std::string sql = absl::StrCat(kSessionsSqlHead, "ARRAY[", absl::StrJoin(regs, ", "),
                                       "]::oid[]", kSessionsSqlTail);
  absl::StatusOr<pg::Result> r = conn.Query(sql);
  if (!r.ok()) {
    return absl::UnavailableError(absl::StrCat("reading pg_stat_activity: ", r.status().message()));
  }
  std::vector<Row> rows;
  rows.reserve(r->size());
  for (const pg::Row& row : *r) rows.push_back(ParseRow(row));
  return rows;
}

constexpr char kRowExclusiveHeld[] = "uncommitted writes (RowExclusiveLock held)";

// FindDestructive: the session's visible statement is a DELETE or UPDATE
// without WHERE, a TRUNCATE or a DROP of a watched table.
absl::optional<SessionFinding> FindDestructive(const Row& r, const std::vector<TableRef>& watched,
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

// FindLockOnly: locks alone: writes (or TRUNCATE / DROP / ALTER) earlier in
// a transaction that is still open, the statement no longer visible.
absl::optional<SessionFinding> FindLockOnly(const Row& r, const RemediationConfig& config) {
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
void FindRunaway(const Row& r, const std::map<int, std::pair<std::vector<int>, double>>& blocking,
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
  return j;
}

std::string SessionFinding::Summary() const {
  std::string what;
  switch (kind) {
    case FindingKind::kDestructiveInFlight:
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
    pg::Session& conn, const std::string& target, const std::vector<TableRef>& watched) {
  std::vector<SessionFinding> findings;
  if (!config_.inflight.enabled && !config_.runaway.enabled) return findings;
  absl::StatusOr<std::vector<Row>> read = ReadSessions(conn, watched);
  if (!read.ok()) return read.status();
  const std::vector<Row>& rows = *read;

  // Who blocks whom, and for how long the longest waiter has waited.
  std::map<int, std::pair<std::vector<int>, double>> blocking;
  for (const Row& r : rows) {
    for (int blocker : r.blockers) {
      auto& entry = blocking[blocker];
      entry.first.push_back(r.info.pid);
      entry.second = std::max(entry.second, r.info.query_age_seconds);
    }
  }

  std::set<Key> seen;
  for (const Row& r : rows) {
    const bool in_xact = r.info.xact_age_seconds >= 0;
    const bool aborted = r.info.state == "idle in transaction (aborted)";
    std::vector<SessionFinding> mine;
    if (config_.inflight.enabled && in_xact && !aborted) {
      absl::optional<SessionFinding> f = FindDestructive(r, watched, config_);
      if (!f && r.info.xact_age_seconds >= kUncertainMinAgeSeconds) {
        f = FindLockOnly(r, config_);
        if (f && f->statement == kRowExclusiveHeld && !r.backend_xid.empty()) {
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
    for (SessionFinding& f : mine) f.backend_start = r.backend_start;
    seen.insert(Key{r.info.pid, r.backend_start, r.xact_raw});
    // One enforcement sequence per backend and transaction, on the first
    // finding that may be acted on.
    for (SessionFinding& f : mine) {
      if (f.allowed || !f.certain) continue;
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
  absl::StatusOr<pg::Result> est =
      conn.Execute("SELECT greatest(reltuples, 0)::bigint FROM pg_class WHERE oid = $1::regclass",
                   kMeasureTimeout, {rel});
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
