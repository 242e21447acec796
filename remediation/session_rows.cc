#include "remediation/session_rows.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "remediation/object_access.h"

namespace pgwarden {
namespace {

// $1, $2: the watched tables' schemas and names as text[], resolved to oids
// through the catalogs (a regclass cast would raise "permission denied for
// schema" for a schema the role may not use). Column 13 lists
// "schema.table=Mode" for each granted relation lock on them, column 15 the
// watched relations the session waits to lock in AccessExclusiveLock.
constexpr char kSessionsSql[] =
    "WITH w AS (SELECT c.oid FROM unnest($1::text[], $2::text[]) AS x(s, t) "
    "  JOIN pg_namespace n ON n.nspname = x.s "
    "  JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = x.t) "
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
    "              AND l.relation IN (SELECT oid FROM w)), ''), "
    "  coalesce(a.backend_xid::text, ''), "
    "  coalesce((SELECT string_agg(n.nspname || '.' || c.relname, ',') "
    "            FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
    "            JOIN pg_namespace n ON n.oid = c.relnamespace "
    "            WHERE l.pid = a.pid AND l.locktype = 'relation' AND NOT l.granted "
    "              AND l.mode = 'AccessExclusiveLock' AND l.relation IN (SELECT oid FROM w)), '') "
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
  for (const auto& [rel, mode] : row.locks) {
    if (!row.info.lock_modes.empty()) row.info.lock_modes += ",";
    absl::StrAppend(&row.info.lock_modes, rel, "=", mode);
  }
  return row;
}

}  // namespace

absl::StatusOr<std::vector<SessionRow>> ReadSessions(pg::Session& conn,
                                                     const std::vector<TableRef>& watched) {
  std::vector<std::string> schemas;
  std::vector<std::string> tables;
  schemas.reserve(watched.size());
  tables.reserve(watched.size());
  for (const TableRef& t : watched) {
    schemas.push_back(t.schema);
    tables.push_back(t.table);
  }
  absl::StatusOr<pg::Result> r = conn.Query(kSessionsSql, {TextArray(schemas), TextArray(tables)});
  if (!r.ok()) {
    return absl::UnavailableError(absl::StrCat("reading pg_stat_activity: ", r.status().message()));
  }
  std::vector<SessionRow> rows;
  rows.reserve(r->size());
  for (const pg::Row& row : *r) rows.push_back(ParseRow(row));
  return rows;
}

}  // namespace pgwarden
