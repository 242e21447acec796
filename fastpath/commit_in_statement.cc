#include "fastpath/commit_in_statement.h"

#include <algorithm>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "fastpath/statement_text.h"
#include "remediation/sql_text.h"

namespace pgwarden {
namespace {

// Active client backends of the database (but ours) whose statement started
// more than $3 seconds ago, with the watched relations ($1) they hold a
// write lock on.
constexpr char kSessionsSql[] =
    "WITH l AS ("
    "  SELECT pid, string_agg(DISTINCT relation::bigint::text, ',') AS rels FROM pg_locks "
    "  WHERE locktype = 'relation' AND granted AND relation = ANY($1::oid[]) "
    "    AND mode IN ('RowExclusiveLock', 'ShareRowExclusiveLock', 'ExclusiveLock', "
    "                 'AccessExclusiveLock') "
    "  GROUP BY pid) "
    "SELECT a.pid, coalesce(a.usename::text, ''), coalesce(a.application_name, ''), "
    "  coalesce(host(a.client_addr), 'local'), left(coalesce(a.query, ''), $2::int), "
    "  extract(epoch FROM now() - a.query_start)::float8, extract(epoch FROM a.query_start)::text, "
    "  coalesce(a.backend_xid::text, ''), coalesce(extract(epoch FROM a.xact_start)::text, ''), "
    "  coalesce(a.xact_start > a.query_start, false), coalesce(l.rels, '') "
    "FROM pg_stat_activity a LEFT JOIN l ON l.pid = a.pid "
    "WHERE a.datname = current_database() AND a.backend_type = 'client backend' "
    "  AND a.state = 'active' AND a.pid <> pg_backend_pid() "
    "  AND a.query_start < now() - make_interval(secs => $3::float8)";

// The bodies of the procedures named $2 (in schema $1, or any when "").
constexpr char kProcedureSql[] =
    "SELECT coalesce(string_agg(p.prosrc, E'\\n;\\n'), '') FROM pg_proc p "
    "JOIN pg_namespace n ON n.oid = p.pronamespace "
    "WHERE p.prokind = 'p' AND p.proname = $2 AND ($1 = '' OR n.nspname = $1)";

const WatchedTable* FindWatched(const std::vector<WatchedTable>& watched, int64_t oid) {
  for (const WatchedTable& w : watched) {
    if (w.oid == oid) return &w;
  }
  return nullptr;
}

}  // namespace

CommitInStatementWatch::CommitInStatementWatch(CommitInStatementOptions options)
    : options_(options) {}

absl::Status CommitInStatementWatch::ReadSessions(pg::Session& conn,
                                                  const std::vector<WatchedTable>& watched) {
  std::vector<int64_t> oids;
  oids.reserve(watched.size());
  for (const WatchedTable& w : watched) oids.push_back(w.oid);
  absl::StatusOr<pg::Result> r =
      conn.Query(kSessionsSql, {absl::StrCat("{", absl::StrJoin(oids, ","), "}"),
                                absl::StrCat(options_.max_query_chars),
                                absl::StrCat(absl::ToDoubleSeconds(options_.min_duration))});
  if (!r.ok()) return r.status();
  stats_.sessions_read = static_cast<int64_t>(r->size());
  std::map<Key, State> next;
  for (const pg::Row& row : *r) {
    const Key key{static_cast<int>(row.Int(0)), row.Text(6)};
    auto old = states_.find(key);
    const bool is_new = old == states_.end();
    State s = is_new ? State{} : std::move(old->second);
    s.info.pid = key.first;
    s.info.role = row.Text(1);
    s.info.application = row.Text(2);
    s.info.client = row.Text(3);
    s.info.query = row.Text(4);
    s.info.query_age_seconds = row.Double(5);
    const std::string xid = row.Text(7);
    const std::string xact_start = row.Text(8);
    bool changed = is_new && row.Bool(9);
    if (!xid.empty()) {
      changed = changed || (!s.last_xid.empty() && xid != s.last_xid);
      s.last_xid = xid;
    }
    if (!xact_start.empty()) {
      changed = changed || (!s.last_xact_start.empty() && xact_start != s.last_xact_start);
      s.last_xact_start = xact_start;
    }
    if (changed) ++s.changes;
    for (absl::string_view rel : absl::StrSplit(row.Text(10), ',', absl::SkipEmpty())) {
      int64_t oid = 0;
      if (absl::SimpleAtoi(rel, &oid)) s.tables.insert(oid);
    }
    next[key] = std::move(s);
  }
  states_ = std::move(next);  // statements not seen again are forgotten
  return absl::OkStatus();
}

void CommitInStatementWatch::LookUpTables(pg::Session& conn,
                                          const std::vector<WatchedTable>& watched, State* state) {
  state->looked_up = true;
  std::string text = state->info.query;
  TableRef procedure;
  if (CalledProcedure(text, &procedure)) {
    ++stats_.lookups;
    absl::StatusOr<pg::Result> r = conn.Query(kProcedureSql, {procedure.schema, procedure.table});
    if (r.ok() && !r->empty()) absl::StrAppend(&text, "\n;\n", (*r)[0].Text(0));
  }
  for (const TableWrite& tw : FindTableWrites(text)) {
    for (const WatchedTable& w : watched) {
      if (RefersTo(tw.table, w.schema, w.table)) state->tables.insert(w.oid);
    }
  }
}

const CommitInStatementWatch::Probe& CommitInStatementWatch::ProbeTable(pg::Session& conn,
                                                                        const WatchedTable& table,
                                                                        absl::Time now,
                                                                        int* probes_left) {
  Probe& p = probes_[table.oid];
  if (now - p.at < options_.probe_spacing || *probes_left <= 0) return p;
  --*probes_left;
  ++stats_.probes;
  const std::string name = conn.QualifiedName(table.schema, table.table);
  const bool sample = table.live_rows > options_.exact_count_rows;
  double percent = 100;
  std::string sql = absl::StrCat("SELECT count(*) FROM ", name);
  if (sample) {
    percent = std::clamp(
        100.0 * static_cast<double>(options_.sample_rows) / static_cast<double>(table.live_rows),
        0.0001, 100.0);
    absl::StrAppend(&sql, absl::StrFormat(" TABLESAMPLE SYSTEM (%.4f)", percent));
  }
  absl::StatusOr<pg::Result> r = conn.Execute(sql, options_.probe_timeout);
  const Probe previous = p;
  p.at = now;
  if (!r.ok() || r->empty()) {
    ++stats_.probe_failures;
    p.ok = false;
    return p;
  }
  p.ok = true;
  p.sampled = sample;
  p.rows = static_cast<int64_t>(static_cast<double>((*r)[0].Int(0)) * 100.0 / percent);
  const double dt = absl::ToDoubleSeconds(now - previous.at);
  p.rows_per_second = previous.ok && dt > 0 ? static_cast<double>(previous.rows - p.rows) / dt : 0;
  return p;
}

absl::StatusOr<std::vector<Suspect>> CommitInStatementWatch::Poll(
    pg::Session& conn, const std::vector<WatchedTable>& watched, absl::Time now) {
  ++stats_.polls;
  std::vector<Suspect> out;
  if (watched.empty()) {
    states_.clear();
    return out;
  }
  absl::Status read = ReadSessions(conn, watched);
  if (!read.ok()) return read;
  for (auto it = probes_.begin(); it != probes_.end();) {
    it = FindWatched(watched, it->first) == nullptr ? probes_.erase(it) : std::next(it);
  }
  int lookups_left = options_.max_lookups_per_poll;
  int probes_left = options_.max_probes_per_poll;
  for (auto& entry : states_) {
    State& s = entry.second;
    if (s.changes == 0) continue;
    if (!s.looked_up && lookups_left > 0) {
      --lookups_left;
      LookUpTables(conn, watched, &s);
    }
    for (int64_t oid : s.tables) {
      const WatchedTable* w = FindWatched(watched, oid);
      if (w == nullptr) continue;
      const Probe& p = ProbeTable(conn, *w, now, &probes_left);
      if (!p.ok) continue;
      const int64_t threshold = std::max(
          options_.min_drop_rows,
          static_cast<int64_t>(options_.min_drop_share * static_cast<double>(w->live_rows)));
      if (w->live_rows - p.rows < threshold) continue;
      Suspect suspect = s.info;
      suspect.oid = w->oid;
      suspect.schema = w->schema;
      suspect.table = w->table;
      suspect.xid_changes = s.changes;
      suspect.rows_before = w->live_rows;
      suspect.rows_now = p.rows;
      suspect.sampled = p.sampled;
      suspect.rows_per_second = p.rows_per_second;
      out.push_back(std::move(suspect));
    }
  }
  return out;
}

}  // namespace pgwarden
