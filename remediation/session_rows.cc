#include "remediation/session_rows.h"

#include <algorithm>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace pgwarden {
namespace {

// Column 13 lists "schema.table=Mode" for each granted relation lock outside
// the system schemas (pg_locks read once, in l), column 15 the relations the session waits to lock
// in AccessExclusiveLock; both are narrowed to the watched tables here, after the query: the
// watched set (thousands of names) is not sent on every tick, and a table the role may not read
// never fails the query.
constexpr char kSessionsSql[] =
    "WITH l AS (SELECT l.pid, l.granted, l.mode, n.nspname || '.' || c.relname AS rel "
    "  FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
    "  JOIN pg_namespace n ON n.oid = c.relnamespace "
    "  WHERE l.locktype = 'relation' AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
    "    AND n.nspname NOT LIKE 'pg\\_toast%') "
    "SELECT a.pid, coalesce(a.usename::text, ''), coalesce(a.application_name, ''), "
    "  coalesce(host(a.client_addr), 'local'), coalesce(a.state, ''), "
    "  left(coalesce(a.query, ''), 2000), a.backend_start::text, coalesce(a.xact_start::text, ''), "
    "  coalesce(to_char(a.xact_start AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), "
    "''), "
    "  coalesce(extract(epoch FROM clock_timestamp() - a.xact_start)::float8, -1), "
    "  coalesce(extract(epoch FROM clock_timestamp() - a.query_start)::float8, -1), "
    "  coalesce(extract(epoch FROM clock_timestamp() - a.state_change)::float8, -1), "
    "  CASE WHEN a.wait_event_type = 'Lock' THEN pg_blocking_pids(a.pid)::text ELSE '' END, "
    "  coalesce((SELECT string_agg(l.rel || '=' || l.mode, ',') FROM l "
    "            WHERE l.pid = a.pid AND l.granted), ''), "
    "  coalesce(a.backend_xid::text, ''), "
    "  coalesce((SELECT string_agg(l.rel, ',') FROM l WHERE l.pid = a.pid AND NOT l.granted "
    "            AND l.mode = 'AccessExclusiveLock'), '') "
    "FROM pg_stat_activity a "
    "WHERE a.backend_type = 'client backend' AND a.pid <> pg_backend_pid() "
    "  AND a.datname = current_database() "
    "ORDER BY a.pid";

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

SessionRow ParseRow(const pg::Row& r) {
  SessionRow row;
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
  row.waiting_exclusive = absl::StrSplit(r.Text(15), ',', absl::SkipEmpty());
  for (absl::string_view item : absl::StrSplit(r.Text(13), ',', absl::SkipEmpty())) {
    const size_t eq = item.rfind('=');
    if (eq == absl::string_view::npos) continue;
    row.locks.emplace_back(std::string(item.substr(0, eq)), std::string(item.substr(eq + 1)));
  }
  return row;
}

// KeepWatched drops the locks on relations that are not watched; the set of
// watched names is built only when some session holds or awaits a lock.
void KeepWatched(const std::vector<TableRef>& watched, std::vector<SessionRow>* rows) {
  bool any = false;
  for (const SessionRow& r : *rows) any = any || !r.locks.empty() || !r.waiting_exclusive.empty();
  if (!any) return;
  absl::flat_hash_set<std::string> names;
  names.reserve(watched.size());
  for (const TableRef& t : watched) names.insert(absl::StrCat(t.schema, ".", t.table));
  for (SessionRow& r : *rows) {
    r.locks.erase(std::remove_if(r.locks.begin(), r.locks.end(),
                                 [&](const auto& lock) { return !names.contains(lock.first); }),
                  r.locks.end());
    auto& waiting = r.waiting_exclusive;
    waiting.erase(std::remove_if(waiting.begin(), waiting.end(),
                                 [&](const std::string& rel) { return !names.contains(rel); }),
                  waiting.end());
    r.info.lock_modes.clear();
    for (const auto& [rel, mode] : r.locks) {
      if (!r.info.lock_modes.empty()) r.info.lock_modes += ",";
      absl::StrAppend(&r.info.lock_modes, rel, "=", mode);
    }
  }
}

}  // namespace

absl::StatusOr<std::vector<SessionRow>> ReadSessions(pg::Session& conn,
                                                     const std::vector<TableRef>& watched) {
  absl::StatusOr<pg::Result> r = conn.Query(kSessionsSql);
  if (!r.ok()) {
    return absl::UnavailableError(absl::StrCat("reading pg_stat_activity: ", r.status().message()));
  }
  std::vector<SessionRow> rows;
  rows.reserve(r->size());
  for (const pg::Row& row : *r) rows.push_back(ParseRow(row));
  KeepWatched(watched, &rows);
  return rows;
}

}  // namespace pgwarden
