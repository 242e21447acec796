#include "remediation/attribution.h"

#include <algorithm>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "remediation/stat_statements_sql.h"

namespace pgwarden {
namespace {

constexpr char kTextsSql[] =
    "SELECT s.userid::bigint, s.queryid, s.toplevel, coalesce(r.rolname, s.userid::text), s.query "
    "FROM pg_stat_statements(true) s LEFT JOIN pg_roles r ON r.oid = s.userid "
    "WHERE s.dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) "
    "  AND s.queryid = ANY($1::bigint[])";

// One row per client backend of the current database (but our own), with the
// lock modes it holds on the relation $1.
constexpr char kActivitySql[] =
    "SELECT a.pid, coalesce(a.usename::text, ''), coalesce(a.application_name, ''), "
    "  coalesce(host(a.client_addr), 'local'), coalesce(a.state, ''), "
    "  left(coalesce(a.query, ''), $2), "
    "  coalesce(to_char(a.xact_start AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), "
    "''), "
    "  coalesce(extract(epoch FROM now() - a.xact_start)::float8, -1), "
    "  coalesce(extract(epoch FROM now() - a.query_start)::float8, -1), "
    "  coalesce((SELECT string_agg(l.mode, ',' ORDER BY l.mode) FROM pg_locks l "
    "            WHERE l.pid = a.pid AND l.locktype = 'relation' AND l.relation = $1::oid "
    "              AND l.granted), '') "
    "FROM pg_stat_activity a "
    "WHERE a.datname = current_database() AND a.backend_type = 'client backend' "
    "  AND a.pid <> pg_backend_pid() "
    "ORDER BY a.pid";

constexpr char kOidSql[] =
    "SELECT c.oid::bigint FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE n.nspname = $1 AND c.relname = $2";

bool HoldsWriteLock(const std::string& modes) {
  return absl::StrContains(modes, "RowExclusiveLock") ||
         absl::StrContains(modes, "AccessExclusiveLock") ||
         absl::StrContains(modes, "ShareRowExclusiveLock");
}

// AttributionFailed wraps an error met while attributing the request's table.
absl::Status AttributionFailed(const AttributionRequest& request, const absl::Status& s) {
  return absl::UnavailableError(
      absl::StrCat("attributing ", request.schema, ".", request.table, ": ", s.message()));
}

// LookUpOid finds the oid of the request's schema.table.
absl::StatusOr<int64_t> LookUpOid(pg::Session& conn, const AttributionRequest& request) {
  absl::StatusOr<pg::Result> r = conn.Query(kOidSql, {request.schema, request.table});
  if (!r.ok()) return AttributionFailed(request, r.status());
  if (r->empty()) {
    return absl::NotFoundError(
        absl::StrCat("table ", request.schema, ".", request.table, " not found"));
  }
  return (*r)[0].Int(0);
}

// AddSessionSuspects adds to *culprits the roles whose sessions write the
// table (or hold a write lock on it in an open transaction while already
// suspected), and collects in *removers the roles whose sessions are removing
// rows from it (DELETE, TRUNCATE, DROP, or a write lock in an open
// transaction): only these are suspects without statement evidence; an
// UPDATE alone removes nothing (but is a suspect when `updates` are
// attributed).
void AddSessionSuspects(const std::vector<SessionInfo>& sessions, bool updates,
                        std::map<std::string, Culprit>* culprits, std::set<std::string>* removers) {
  for (const SessionInfo& s : sessions) {
    const bool writes = !s.writes.empty();
    for (const std::string& w : s.writes) {
      if (absl::StartsWith(w, "DELETE") || absl::StartsWith(w, "TRUNCATE") ||
          absl::StartsWith(w, "DROP") || (updates && absl::StartsWith(w, "UPDATE"))) {
        removers->insert(s.role);
      }
    }
    const bool locked = HoldsWriteLock(s.lock_modes) && s.xact_age_seconds >= 0;
    if (!writes && !(locked && culprits->count(s.role))) continue;
    Culprit& c = (*culprits)[s.role];
    c.role = s.role;
    if (writes &&
        std::find(c.evidence.begin(), c.evidence.end(), "pg_stat_activity") == c.evidence.end()) {
      c.evidence.push_back("pg_stat_activity");
    }
    if (locked) {
      c.in_flight = true;
      removers->insert(s.role);
      if (std::find(c.evidence.begin(), c.evidence.end(), "pg_locks") == c.evidence.end()) {
        c.evidence.push_back("pg_locks");
      }
    }
  }
}

// ShareTruncatedRows gives the rows the deletes do not explain to the
// truncaters, in equal shares.
void ShareTruncatedRows(int64_t rows_dropped, std::map<std::string, Culprit>* culprits) {
  int64_t deleted_total = 0;
  int truncaters = 0;
  for (const auto& entry : *culprits) {
    deleted_total += entry.second.rows_attributed;
    if (entry.second.truncates > 0) ++truncaters;
  }
  if (truncaters > 0 && rows_dropped > deleted_total) {
    for (auto& entry : *culprits) {
      if (entry.second.truncates > 0) {
        entry.second.rows_attributed += (rows_dropped - deleted_total) / truncaters;
      }
    }
  }
}

// AttachSessions copies the role's sessions into *c, the writing / locking
// ones first, and takes its application and client from the first.
void AttachSessions(const std::vector<SessionInfo>& sessions, Culprit* c) {
  std::vector<const SessionInfo*> mine;
  for (const SessionInfo& s : sessions) {
    if (s.role == c->role) mine.push_back(&s);
  }
  std::stable_sort(mine.begin(), mine.end(), [](const SessionInfo* a, const SessionInfo* b) {
    const int ra = (!a->writes.empty() ? 2 : 0) + (!a->lock_modes.empty() ? 1 : 0);
    const int rb = (!b->writes.empty() ? 2 : 0) + (!b->lock_modes.empty() ? 1 : 0);
    return ra > rb;
  });
  for (const SessionInfo* s : mine) {
    c->pids.push_back(s->pid);
    c->sessions.push_back(*s);
  }
  if (!mine.empty()) {
    c->application = mine.front()->application;
    c->client = mine.front()->client;
  }
}

// SumCulprits adds the culprits' rows to out->rows_attributed, attaches their
// sessions and rates, and returns how many are suspects on activity alone.
int SumCulprits(const std::vector<SessionInfo>& sessions, const std::set<std::string>& removers,
                std::map<std::string, Culprit>* culprits, Attribution* out) {
  int activity_only = 0;
  for (auto& entry : *culprits) {
    Culprit& c = entry.second;
    out->rows_attributed += c.rows_attributed;
    if (c.rows_attributed == 0 && c.truncates == 0 && removers.count(c.role) > 0) {
      ++activity_only;
    }
    AttachSessions(sessions, &c);
    if (out->window_seconds > 0)
      c.rows_per_second = static_cast<double>(c.rows_attributed) / out->window_seconds;
  }
  return activity_only;
}

// RankCulprits sets each culprit's confidence, moves them into
// out->culprits (most rows first) and sets the overall confidence.
void RankCulprits(int64_t rows_dropped, int activity_only, const std::set<std::string>& removers,
                  std::map<std::string, Culprit>* culprits, Attribution* out) {
  const int64_t denominator = rows_dropped > 0 ? rows_dropped : out->rows_attributed;
  for (auto& entry : *culprits) {
    Culprit& c = entry.second;
    if (c.rows_attributed > 0 && denominator > 0) {
      c.confidence =
          std::min(1.0, static_cast<double>(c.rows_attributed) / static_cast<double>(denominator));
    } else if (out->rows_attributed == 0 && activity_only > 0 && removers.count(c.role) > 0) {
      c.confidence = kActivityOnlyConfidence / activity_only;
    }
    out->culprits.push_back(std::move(c));
  }
  std::stable_sort(out->culprits.begin(), out->culprits.end(),
                   [](const Culprit& a, const Culprit& b) {
                     if (a.rows_attributed != b.rows_attributed) {
                       return a.rows_attributed > b.rows_attributed;
                     }
                     return a.confidence > b.confidence;
                   });
  if (out->rows_attributed > 0 && denominator > 0) {
    out->confidence =
        std::min(1.0, static_cast<double>(out->rows_attributed) / static_cast<double>(denominator));
  } else if (!out->culprits.empty()) {
    out->confidence = out->culprits.front().confidence;
  }
}

}  // namespace

nlohmann::json SessionInfo::ToJson() const {
  nlohmann::json j = {
      {"pid", pid},      {"role", role},   {"application", application}, {"client", client},
      {"state", state},  {"query", query}, {"xact_start", xact_start},   {"lock_modes", lock_modes},
      {"writes", writes}};
  if (xact_age_seconds >= 0) j["xact_age_seconds"] = xact_age_seconds;
  if (query_age_seconds >= 0) j["query_age_seconds"] = query_age_seconds;
  return j;
}

nlohmann::json Culprit::ToJson() const {
  nlohmann::json sessions_json = nlohmann::json::array();
  for (const SessionInfo& s : sessions) sessions_json.push_back(s.ToJson());
  return {{"role", role},
          {"pids", pids},
          {"application", application},
          {"client", client},
          {"rows_attributed", rows_attributed},
          {"rows_updated", rows_updated},
          {"truncates", truncates},
          {"rows_per_second", rows_per_second},
          {"confidence", confidence},
          {"in_flight", in_flight},
          {"evidence", evidence},
          {"sessions", sessions_json}};
}

nlohmann::json Attribution::ToJson() const {
  nlohmann::json culprits_json = nlohmann::json::array();
  for (const Culprit& c : culprits) culprits_json.push_back(c.ToJson());
  nlohmann::json holders = nlohmann::json::array();
  for (const SessionInfo& s : lock_holders) holders.push_back(s.ToJson());
  return {{"schema", schema},
          {"table", table},
          {"oid", oid},
          {"rows_dropped", rows_dropped},
          {"rows_attributed", rows_attributed},
          {"window_seconds", window_seconds},
          {"confidence", confidence},
          {"statements_available", statements_available},
          {"culprits", culprits_json},
          {"lock_holders", holders}};
}

std::string Attribution::Summary() const {
  const Culprit* top = Top();
  if (top == nullptr) {
    return absl::StrCat(schema, ".", table, ": no culprit found (", rows_dropped, " rows dropped)");
  }
  return absl::StrFormat(
      "%s.%s: role %s (application \"%s\", client %s, pids %s) removed %d of %d rows (%.0f "
      "rows/s), confidence %.2f",
      schema, table, top->role, top->application, top->client, absl::StrJoin(top->pids, ","),
      top->rows_attributed, rows_dropped, top->rows_per_second, top->confidence);
}

Attributor::Attributor(const Clock* clock, AttributorOptions options)
    : clock_(clock), options_(options) {}

absl::StatusOr<bool> Attributor::StatementsAvailable(pg::Session& conn) {
  absl::StatusOr<pg::Result> r = conn.Query(kStatementsInstalledSql);
  if (!r.ok()) {
    return absl::UnavailableError(
        absl::StrCat("checking for pg_stat_statements: ", r.status().message()));
  }
  return !r->empty() && (*r)[0].Int(0) > 0;
}

absl::StatusOr<std::map<Attributor::Key, Attributor::Counters>> Attributor::ReadCounterRows(
    pg::Session& conn) {
  absl::StatusOr<pg::Result> r = conn.Query(kStatementCountersSql);
  if (!r.ok()) {
    return absl::UnavailableError(
        absl::StrCat("reading pg_stat_statements: ", r.status().message()));
  }
  std::map<Key, Counters> out;
  for (const pg::Row& row : *r) {
    out[Key{row.Int(0), row.Int(1), row.Bool(2)}] = Counters{row.Int(3), row.Int(4)};
  }
  return out;
}

absl::Status Attributor::Observe(pg::Session& conn) {
  const absl::Time now = clock_->Now();
  if (!snapshots_.empty() && now - snapshots_.back().time < options_.snapshot_spacing) {
    return absl::OkStatus();
  }
  absl::StatusOr<bool> available = StatementsAvailable(conn);
  if (!available.ok()) return available.status();
  if (!*available) return absl::OkStatus();
  const absl::Time at = clock_->Now();
  absl::StatusOr<std::map<Key, Counters>> counters = ReadCounterRows(conn);
  if (!counters.ok()) return counters.status();
  snapshots_.push_back(Snapshot{at, *std::move(counters)});
  while (static_cast<int>(snapshots_.size()) > std::max(1, options_.max_snapshots)) {
    snapshots_.pop_front();
  }
  return absl::OkStatus();
}

absl::StatusOr<std::map<std::string, Attributor::RoleStats>> Attributor::ReadRoleStats(
    pg::Session& conn, const AttributionRequest& request, double* window_seconds) {
  std::map<std::string, RoleStats> by_role;
  // Baseline: newest snapshot at or before `since`, else the oldest.
  const Snapshot* base = nullptr;
  for (const Snapshot& s : snapshots_) {
    if (s.time <= request.since) base = &s;
  }
  if (base == nullptr && !snapshots_.empty()) base = &snapshots_.front();
  absl::StatusOr<std::map<Key, Counters>> current = ReadCounterRows(conn);
  if (!current.ok()) return current.status();
  std::map<Key, Counters> delta;
  for (const auto& [key, now_counters] : *current) {
    Counters d = now_counters;
    if (base != nullptr) {
      auto it = base->counters.find(key);
      // A counter that went down was reset or evicted: count it anew.
      if (it != base->counters.end() && it->second.calls <= now_counters.calls) {
        d.calls -= it->second.calls;
        d.rows -= it->second.rows;
      }
    }
    if (d.calls > 0) delta[key] = d;
  }
  *window_seconds = base != nullptr ? absl::ToDoubleSeconds(clock_->Now() - base->time) : 0;
  std::set<int64_t> ids;
  for (const auto& entry : delta) ids.insert(std::get<1>(entry.first));
  if (ids.empty()) return by_role;
  absl::StatusOr<pg::Result> texts =
      conn.Query(kTextsSql, {absl::StrCat("{", absl::StrJoin(ids, ","), "}")});
  if (!texts.ok()) return texts.status();
  for (const pg::Row& row : *texts) {
    auto it = delta.find(Key{row.Int(0), row.Int(1), row.Bool(2)});
    if (it == delta.end()) continue;
    const std::string role = row.Text(3);
    for (const TableWrite& w : FindTableWrites(row.Text(4))) {
      if (!RefersTo(w.table, request.schema, request.table)) continue;
      RoleStats& stats = by_role[role];
      switch (w.verb) {
        case WriteVerb::kDelete:
          stats.deleted += it->second.rows;
          break;
        case WriteVerb::kUpdate:
          stats.updated += it->second.rows;
          break;
        case WriteVerb::kTruncate:
        case WriteVerb::kDrop:
          stats.truncates += it->second.calls;
          break;
      }
      break;  // count one statement once
    }
  }
  return by_role;
}

absl::StatusOr<std::vector<SessionInfo>> Attributor::ReadSessions(pg::Session& conn,
                                                                  const AttributionRequest& request,
                                                                  int64_t oid) {
  absl::StatusOr<pg::Result> r =
      conn.Query(kActivitySql, {absl::StrCat(oid), absl::StrCat(options_.max_query_chars)});
  if (!r.ok()) return r.status();
  std::vector<SessionInfo> sessions;
  for (const pg::Row& row : *r) {
    SessionInfo s;
    s.pid = static_cast<int>(row.Int(0));
    s.role = row.Text(1);
    s.application = row.Text(2);
    s.client = row.Text(3);
    s.state = row.Text(4);
    s.query = row.Text(5);
    s.xact_start = row.Text(6);
    s.xact_age_seconds = row.Double(7);
    s.query_age_seconds = row.Double(8);
    s.lock_modes = row.Text(9);
    for (const TableWrite& w : FindTableWrites(s.query)) {
      if (!RefersTo(w.table, request.schema, request.table)) continue;
      std::string what = WriteVerbName(w.verb);
      if ((w.verb == WriteVerb::kDelete || w.verb == WriteVerb::kUpdate) && !w.has_where) {
        absl::StrAppend(&what, " without WHERE");
      }
      s.writes.push_back(what);
    }
    sessions.push_back(std::move(s));
  }
  return sessions;
}

std::map<std::string, Culprit> Attributor::StatementCulprits(
    const std::map<std::string, RoleStats>& by_role, bool updates) {
  std::map<std::string, Culprit> culprits;
  for (const auto& [role, stats] : by_role) {
    if (stats.deleted <= 0 && stats.truncates <= 0 && stats.updated <= 0) continue;
    Culprit& c = culprits[role];
    c.role = role;
    c.rows_attributed = updates ? stats.updated : stats.deleted;
    c.rows_updated = stats.updated;
    c.truncates = updates ? 0 : stats.truncates;
    c.evidence.push_back("pg_stat_statements");
  }
  return culprits;
}

absl::StatusOr<Attribution> Attributor::Attribute(pg::Session& conn,
                                                  const AttributionRequest& request) {
  Attribution out;
  out.schema = request.schema;
  out.table = request.table;
  out.oid = request.oid;
  out.rows_dropped = request.rows_dropped;

  absl::StatusOr<bool> available = StatementsAvailable(conn);
  if (!available.ok()) return available.status();
  out.statements_available = *available;

  if (out.oid == 0) {
    absl::StatusOr<int64_t> oid = LookUpOid(conn, request);
    if (!oid.ok()) return oid.status();
    out.oid = *oid;
  }
  std::map<std::string, RoleStats> by_role;
  if (out.statements_available) {
    absl::StatusOr<std::map<std::string, RoleStats>> stats =
        ReadRoleStats(conn, request, &out.window_seconds);
    if (!stats.ok()) return AttributionFailed(request, stats.status());
    by_role = *std::move(stats);
  }
  absl::StatusOr<std::vector<SessionInfo>> read = ReadSessions(conn, request, out.oid);
  if (!read.ok()) return AttributionFailed(request, read.status());
  std::vector<SessionInfo> sessions = *std::move(read);
  for (const SessionInfo& s : sessions) {
    if (!s.lock_modes.empty()) out.lock_holders.push_back(s);
  }

  // Roles under suspicion: statement evidence, or a session whose current or
  // last statement writes the table, or that holds a write lock on it.
  std::map<std::string, Culprit> culprits = StatementCulprits(by_role, request.updates);
  std::set<std::string> removers;
  AddSessionSuspects(sessions, request.updates, &culprits, &removers);
  ShareTruncatedRows(request.rows_dropped, &culprits);
  const int activity_only = SumCulprits(sessions, removers, &culprits, &out);
  RankCulprits(request.rows_dropped, activity_only, removers, &culprits, &out);
  return out;
}

}  // namespace pgwarden
