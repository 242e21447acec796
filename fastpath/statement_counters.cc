#include "fastpath/statement_counters.h"

#include <algorithm>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "remediation/stat_statements_sql.h"

namespace pgwarden {
namespace {

constexpr char kTextsSql[] =
    "SELECT DISTINCT ON (s.queryid) s.queryid, s.query "
    "FROM pg_stat_statements(true) s "
    "WHERE s.dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) "
    "  AND s.queryid = ANY($1::bigint[])";

constexpr char kRolesSql[] = "SELECT oid::bigint, rolname FROM pg_roles WHERE oid = ANY($1::oid[])";

constexpr char kSchemasSql[] =
    "SELECT c.relname, min(n.nspname), count(*) FROM pg_class c "
    "JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE c.relkind IN ('r', 'p') AND c.relname = ANY($1::text[]) "
    "  AND n.nspname NOT IN ('pg_catalog', 'information_schema') GROUP BY c.relname";

// One row per client backend of the database (but ours); a single row with
// a NULL pid when there is none. Column 4: in a multi-statement transaction;
// column 5: when its last statement can have ended (query_start while
// active, else state_change).
constexpr char kActivitySql[] =
    "SELECT c.t, a.pid, coalesce(a.usename::text, ''), "
    "  coalesce(extract(epoch FROM a.xact_start)::text, ''), "
    "  coalesce(a.state LIKE 'idle in transaction%' "
    "           OR (a.state = 'active' AND a.xact_start < a.query_start), false), "
    "  coalesce(extract(epoch FROM CASE WHEN a.state = 'active' THEN a.query_start "
    "                                   ELSE a.state_change END)::float8, 0), "
    "  coalesce(a.backend_xid::text, '') "
    "FROM (SELECT extract(epoch FROM clock_timestamp())::float8 AS t) c "
    "LEFT JOIN pg_stat_activity a ON a.datname = current_database() "
    "  AND a.backend_type = 'client backend' AND a.pid <> pg_backend_pid()";

// kAbortedSql returns which of the 32-bit xids $1 PostgreSQL recorded as
// aborted; each is widened to xid8 with the current epoch (the previous one
// if it is ahead of the current xid).
constexpr char kAbortedSql[] =
    "WITH cur AS (SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint AS x8) "
    "SELECT x::text FROM unnest($1::bigint[]) AS x, cur "
    "WHERE pg_xact_status((greatest(0, (cur.x8 >> 32) - "
    "  CASE WHEN x > (cur.x8 & 4294967295) THEN 1 ELSE 0 END) << 32 | x)::text::xid8) "
    "  = 'aborted'";

// A statement that ended this close before the previous poll's activity
// read still counts as possibly after it (clock rounding).
constexpr double kEndMarginSeconds = 0.01;

// IsMissingExtension: undefined function / table, or the library not
// preloaded (object_not_in_prerequisite_state).
bool IsMissingExtension(const absl::Status& s) {
  const std::string state = pg::SqlState(s);
  return state == "42883" || state == "42P01" || state == "55000" || state == "3F000";
}

// ArrayLiteral renders values as a PostgreSQL text array literal.
std::string ArrayLiteral(const std::vector<std::string>& values) {
  std::vector<std::string> quoted;
  quoted.reserve(values.size());
  for (const std::string& v : values) {
    std::string q = "\"";
    for (char c : v) {
      if (c == '"' || c == '\\') q.push_back('\\');
      q.push_back(c);
    }
    q.push_back('"');
    quoted.push_back(std::move(q));
  }
  return absl::StrCat("{", absl::StrJoin(quoted, ","), "}");
}

std::string ChangeKey(const TableChange& c) {
  return absl::StrCat(c.role, "\x1f", c.schema, "\x1f", c.table);
}

}  // namespace

StatementCounters::StatementCounters(StatementCountersOptions options)
    : options_(options), pending_(options.max_pending_age) {}

absl::StatusOr<bool> StatementCounters::CheckInstalled(pg::Session& conn, absl::Time now) {
  if (available_ && checked_) return true;
  if (checked_ && now - last_check_ < options_.recheck_unavailable) return false;
  checked_ = true;
  last_check_ = now;
  absl::StatusOr<pg::Result> r = conn.Query(kStatementsInstalledSql);
  if (!r.ok()) return r.status();
  available_ = !r->empty() && (*r)[0].Int(0) > 0;
  have_baseline_ = false;
  return available_;
}

absl::StatusOr<StatementCounters::Activity> StatementCounters::ReadActivity(pg::Session& conn) {
  absl::StatusOr<pg::Result> r = conn.Query(kActivitySql);
  if (!r.ok()) return r.status();
  Activity out;
  for (const pg::Row& row : *r) {
    out.now_epoch = row.Double(0);
    if (row.IsNull(1)) continue;
    Session s;
    s.xact.pid = static_cast<int>(row.Int(1));
    s.role = row.Text(2);
    s.xact.xact_start = row.Text(3);
    s.multi = row.Bool(4);
    s.last_end_epoch = row.Double(5);
    s.xact.xid = row.Text(6);
    out.sessions.push_back(std::move(s));
  }
  return out;
}

std::map<StatementCounters::Key, StatementCounters::Counters> StatementCounters::Deltas(
    const std::map<Key, Counters>& current) {
  std::map<Key, Counters> delta;
  for (const auto& [key, now_counters] : current) {
    auto it = baseline_.find(key);
    if (it == baseline_.end()) {
      if (now_counters.calls > 0) delta[key] = now_counters;
      continue;
    }
    if (now_counters.calls < it->second.calls || now_counters.rows < it->second.rows) {
      ++stats_.resets;
      continue;
    }
    const Counters d{now_counters.calls - it->second.calls, now_counters.rows - it->second.rows};
    if (d.calls > 0 || d.rows > 0) delta[key] = d;
  }
  for (const auto& entry : baseline_) {
    if (current.count(entry.first) == 0) ++stats_.evicted;
  }
  return delta;
}

absl::Status StatementCounters::FetchTexts(pg::Session& conn,
                                           const std::map<Key, Counters>& delta) {
  std::set<int64_t> wanted;
  for (const auto& entry : delta) {
    const int64_t queryid = std::get<1>(entry.first);
    if (classes_.count(queryid) > 0) continue;
    if (static_cast<int>(wanted.size()) >= options_.max_texts_per_poll) {
      ++stats_.texts_deferred;
      continue;
    }
    wanted.insert(queryid);
  }
  if (wanted.empty()) return absl::OkStatus();
  absl::StatusOr<pg::Result> r =
      conn.Query(kTextsSql, {absl::StrCat("{", absl::StrJoin(wanted, ","), "}")});
  if (!r.ok()) return r.status();
  if (classes_.size() + wanted.size() > options_.max_cached_texts) classes_.clear();
  for (const pg::Row& row : *r) {
    classes_[row.Int(0)] = ClassifyStatement(row.Text(1));
    ++stats_.texts_fetched;
  }
  return absl::OkStatus();
}

absl::Status StatementCounters::FetchRoles(pg::Session& conn,
                                           const std::map<Key, Counters>& delta) {
  std::set<int64_t> wanted;
  for (const auto& entry : delta) {
    if (roles_.count(std::get<0>(entry.first)) == 0) wanted.insert(std::get<0>(entry.first));
  }
  if (wanted.empty()) return absl::OkStatus();
  absl::StatusOr<pg::Result> r =
      conn.Query(kRolesSql, {absl::StrCat("{", absl::StrJoin(wanted, ","), "}")});
  if (!r.ok()) return r.status();
  for (const pg::Row& row : *r) roles_[row.Int(0)] = row.Text(1);
  // A dropped role keeps its oid as its name.
  for (int64_t id : wanted) roles_.emplace(id, absl::StrCat(id));
  return absl::OkStatus();
}

absl::Status StatementCounters::ResolveSchemas(pg::Session& conn) {
  std::vector<std::string> wanted;
  for (const auto& entry : classes_) {
    if (entry.second.kind != StatementKind::kWrite) continue;
    for (const TableRef& t : entry.second.tables) {
      if (!t.schema.empty() || schemas_.count(t.table) > 0) continue;
      if (static_cast<int>(wanted.size()) >= options_.max_names_per_poll) break;
      if (std::find(wanted.begin(), wanted.end(), t.table) == wanted.end()) {
        wanted.push_back(t.table);
      }
    }
  }
  if (wanted.empty()) return absl::OkStatus();
  absl::StatusOr<pg::Result> r = conn.Query(kSchemasSql, {ArrayLiteral(wanted)});
  if (!r.ok()) return r.status();
  if (schemas_.size() > options_.max_cached_texts) schemas_.clear();
  for (const std::string& name : wanted) schemas_[name] = "";
  // Only a name that one table carries is resolved; else the schema stays "".
  for (const pg::Row& row : *r) {
    if (row.Int(2) == 1) schemas_[row.Text(0)] = row.Text(1);
  }
  return absl::OkStatus();
}

std::string StatementCounters::RoleName(int64_t userid) const {
  auto it = roles_.find(userid);
  return it == roles_.end() ? absl::StrCat(userid) : it->second;
}

std::vector<TableChange> StatementCounters::Changes(const StatementClass& cls,
                                                    const std::string& role, const Counters& d) {
  std::vector<TableChange> out;
  if (cls.kind == StatementKind::kAmbiguous) ++stats_.ambiguous;
  if (cls.kind != StatementKind::kWrite) return out;
  if (cls.verb != ChangeVerb::kTruncate && d.rows <= 0) return out;
  if (cls.verb == ChangeVerb::kTruncate && d.calls <= 0) return out;
  for (const TableRef& t : cls.tables) {
    TableChange c;
    c.role = role;
    c.table = t.table;
    c.schema = t.schema;
    if (c.schema.empty()) {
      auto it = schemas_.find(t.table);
      if (it != schemas_.end()) c.schema = it->second;
    }
    switch (cls.verb) {
      case ChangeVerb::kInsert:
        c.inserted = d.rows;
        break;
      case ChangeVerb::kUpdate:
        c.updated = d.rows;
        break;
      case ChangeVerb::kDelete:
        c.deleted = d.rows;
        break;
      case ChangeVerb::kTruncate:
        c.truncated = true;
        break;
    }
    out.push_back(std::move(c));
  }
  return out;
}

std::set<std::string> StatementCounters::Aborted(pg::Session& conn, const Activity& activity) {
  std::set<XactId> open;
  for (const Session& s : activity.sessions) {
    if (!s.xact.xact_start.empty()) open.insert(s.xact);
  }
  const std::vector<std::string> ended = pending_.EndedXids(open);
  std::set<std::string> out;
  if (ended.empty()) return out;
  absl::StatusOr<pg::Result> r =
      conn.Query(kAbortedSql, {absl::StrCat("{", absl::StrJoin(ended, ","), "}")});
  if (!r.ok()) {
    // Too old to ask (or no xid8 support): fall back to ROLLBACK counts.
    ++stats_.xact_status_failures;
    return out;
  }
  for (const pg::Row& row : *r) out.insert(row.Text(0));
  return out;
}

std::vector<TableChange> StatementCounters::Route(const Activity& activity,
                                                  const std::map<Key, Counters>& delta,
                                                  const std::set<std::string>& aborted,
                                                  absl::Time now) {
  // Roles that rolled back in this poll; open transactions; and, per role,
  // the multi-statement transactions that may hold this poll's changes.
  std::set<std::string> rolled_back;
  for (const auto& [key, d] : delta) {
    auto cls = classes_.find(std::get<1>(key));
    if (cls != classes_.end() && cls->second.kind == StatementKind::kRollback && d.calls > 0) {
      rolled_back.insert(RoleName(std::get<0>(key)));
    }
  }
  std::set<XactId> open;
  std::map<std::string, std::vector<XactId>> holders;
  for (const Session& s : activity.sessions) {
    if (s.xact.xact_start.empty()) continue;
    open.insert(s.xact);
    if (s.multi && s.last_end_epoch + kEndMarginSeconds >= baseline_epoch_) {
      holders[s.role].push_back(s.xact);
    }
  }
  std::vector<TableChange> released;
  for (const auto& [key, d] : delta) {
    auto cls = classes_.find(std::get<1>(key));
    if (cls == classes_.end()) continue;  // text deferred: counted next poll
    const std::string role = RoleName(std::get<0>(key));
    for (const TableChange& c : Changes(cls->second, role, d)) {
      auto h = holders.find(role);
      if (rolled_back.count(role) > 0) {
        stats_.discarded_rows += c.inserted + c.updated + c.deleted;
      } else if (h != holders.end()) {
        pending_.Hold(c, h->second, now);
      } else {
        released.push_back(c);
      }
    }
  }
  pending_.Resolve(open, rolled_back, now, &released, aborted);
  std::map<std::string, TableChange> merged;
  for (const TableChange& c : released) {
    auto [it, inserted] = merged.emplace(ChangeKey(c), c);
    if (!inserted) AddChange(c, &it->second);
  }
  std::vector<TableChange> out;
  out.reserve(merged.size());
  for (auto& entry : merged) out.push_back(std::move(entry.second));
  return out;
}

void StatementCounters::Rebaseline(std::map<Key, Counters> current,
                                   const std::map<Key, Counters>& delta, double epoch) {
  // Entries whose text was deferred keep the old baseline (or none) so that
  // their growth is counted once their text is known.
  for (const auto& entry : delta) {
    if (classes_.count(std::get<1>(entry.first)) > 0) continue;
    auto old = baseline_.find(entry.first);
    if (old == baseline_.end()) {
      current.erase(entry.first);
    } else {
      current[entry.first] = old->second;
    }
  }
  baseline_ = std::move(current);
  baseline_epoch_ = epoch;
}

absl::StatusOr<std::vector<TableChange>> StatementCounters::Poll(pg::Session& conn,
                                                                 absl::Time now) {
  ++stats_.polls;
  std::vector<TableChange> out;
  absl::StatusOr<bool> installed = CheckInstalled(conn, now);
  if (!installed.ok()) return installed.status();
  if (!*installed) return out;

  absl::StatusOr<Activity> activity = ReadActivity(conn);
  if (!activity.ok()) return activity.status();
  absl::StatusOr<pg::Result> rows = conn.Query(kStatementCountersSql);
  if (!rows.ok()) {
    if (!IsMissingExtension(rows.status())) return rows.status();
    available_ = false;
    last_check_ = now;
    have_baseline_ = false;
    return out;
  }
  stats_.activity_rows = static_cast<int64_t>(activity->sessions.size());
  stats_.counter_rows = static_cast<int64_t>(rows->size());
  std::map<Key, Counters> current;
  for (const pg::Row& row : *rows) {
    current[Key{row.Int(0), row.Int(1), row.Bool(2)}] = Counters{row.Int(3), row.Int(4)};
  }
  if (!have_baseline_) {
    baseline_ = std::move(current);
    baseline_epoch_ = activity->now_epoch;
    have_baseline_ = true;
    return out;
  }
  const std::map<Key, Counters> delta = Deltas(current);
  absl::Status s = FetchTexts(conn, delta);
  if (s.ok()) s = FetchRoles(conn, delta);
  if (s.ok()) s = ResolveSchemas(conn);
  if (!s.ok()) return s;
  out = Route(*activity, delta, Aborted(conn, *activity), now);
  Rebaseline(std::move(current), delta, activity->now_epoch);
  return out;
}

}  // namespace pgwarden
