#include "sources/pg_sampler.h"

#include <fnmatch.h>

#include <cmath>
#include <regex>

#include "absl/strings/str_cat.h"
#include "core/log.h"
#include "pg/connect.h"
#include "sources/table_changes.h"

namespace pgwarden {
namespace {}  // namespace

// The pg_stat_get_* functions over pg_class read only the counters the
// detectors use: pg_stat_user_tables also sums the scans of every index of
// every table on each read. The same relations as pg_stat_user_tables
// (tables and materialized views outside the system schemas), partitioned
// tables left out (their own counters stay 0).
const char kSampleTablesSql[] =
    "SELECT c.oid::int8, c.relfilenode::int8, n.nspname, c.relname, "
    "pg_stat_get_live_tuples(c.oid), pg_stat_get_dead_tuples(c.oid), "
    "pg_stat_get_tuples_inserted(c.oid), pg_stat_get_tuples_updated(c.oid), "
    "pg_stat_get_tuples_deleted(c.oid), "
    "pg_stat_get_vacuum_count(c.oid) + pg_stat_get_autovacuum_count(c.oid) + "
    "pg_stat_get_analyze_count(c.oid) + pg_stat_get_autoanalyze_count(c.oid), "
    "pg_stat_get_mod_since_analyze(c.oid), coalesce(rn.nspname, ''), coalesce(rc.relname, '') "
    "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
    // A partition's root partitioned table.
    "LEFT JOIN pg_class rc ON c.relispartition AND rc.oid = pg_partition_root(c.oid) "
    "LEFT JOIN pg_namespace rn ON rn.oid = rc.relnamespace "
    "WHERE c.relkind IN ('r', 'm') AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
    "AND n.nspname !~ '^pg_toast'";

namespace {

// The same round trip reads the WAL position and the server's clock (the
// recovery point) and the cluster's WAL archiver (the backups watch).
constexpr char kDatabaseSql[] =
    "SELECT current_database(), xact_commit, xact_rollback, deadlocks, sessions, "
    "sessions_fatal, sessions_killed, "
    "(CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() "
    "ELSE pg_current_wal_lsn() END)::text, extract(epoch FROM clock_timestamp())::float8, "
    "current_setting('archive_mode') <> 'off', a.archived_count, a.failed_count, "
    "coalesce(extract(epoch FROM a.last_archived_time), 0)::float8, "
    "coalesce(extract(epoch FROM a.last_failed_time), 0)::float8, "
    "tup_inserted + tup_updated + tup_deleted, "
    "(SELECT count(*) + coalesce(sum(relfilenode::int8), 0) FROM pg_class "
    " WHERE relkind IN ('r', 'p', 'm')) "
    "FROM pg_stat_database CROSS JOIN pg_stat_archiver a WHERE datname = current_database()";

absl::Time FromEpoch(double seconds) {
  return seconds <= 0 ? absl::InfinitePast() : absl::FromUnixMicros(std::llround(seconds * 1e6));
}

bool GlobMatch(const std::string& pattern, const std::string& text) {
  return ::fnmatch(pattern.c_str(), text.c_str(), 0) == 0;
}

}  // namespace

bool TableFilter::Matches(const std::string& schema, const std::string& table) const {
  const std::string full = absl::StrCat(schema, ".", table);
  bool included = include_.empty();
  for (const std::string& p : include_) {
    if (GlobMatch(p, full)) {
      included = true;
      break;
    }
  }
  if (!included) return false;
  for (const std::string& p : exclude_) {
    if (GlobMatch(p, full)) return false;
  }
  return true;
}

PgSampler::PgSampler(std::string dsn, TableFilter filter, PgSamplerOptions options)
    : dsn_(std::move(dsn)), filter_(std::move(filter)), options_(std::move(options)) {}

PgSampler::~PgSampler() { Disconnect(); }

void PgSampler::Disconnect() {
  conn_.reset();
  rows_counter_ = -1;  // the next sample reads every table
}

absl::Status PgSampler::Connect() {
  pg::ConnectOptions o;
  o.application_name = options_.application_name;
  o.connect_timeout = options_.connect_timeout;
  o.statement_timeout = options_.statement_timeout;
  o.lock_timeout = absl::Seconds(1);
  absl::StatusOr<std::unique_ptr<pg::Session>> s = pg::Connect(dsn_, o);
  if (!s.ok()) return s.status();
  conn_ = *std::move(s);
  return absl::OkStatus();
}

absl::Status PgSampler::ReadTables(Snapshot* snap) {
  absl::StatusOr<pg::Result> tables = conn_->Query(kSampleTablesSql);
  if (!tables.ok()) return tables.status();
  snap->all_oids.reserve(tables->size());
  for (const pg::Row& row : *tables) {
    snap->all_oids.push_back(row.Int(0));
    std::string schema = row.Text(2);
    std::string name = row.Text(3);
    std::string parent_schema = row.Text(11);
    std::string parent_name = row.Text(12);
    // A partition is watched with its partitioned table, or by its own name.
    if (!filter_.Matches(schema, name) &&
        (parent_name.empty() || !filter_.Matches(parent_schema, parent_name))) {
      continue;
    }
    TableStat t;
    t.oid = row.Int(0);
    t.relfilenode = row.Int(1);
    t.schema = std::move(schema);
    t.name = std::move(name);
    t.live_rows = row.Int(4);
    t.dead_rows = row.Int(5);
    t.inserted = row.Int(6);
    t.updated = row.Int(7);
    t.deleted = row.Int(8);
    t.maintenance_count = row.Int(9);
    t.modified = row.Int(10);
    t.parent_schema = std::move(parent_schema);
    t.parent_name = std::move(parent_name);
    snap->tables.push_back(std::move(t));
  }
  last_tables_ = snap->tables;
  last_oids_ = snap->all_oids;
  last_read_ = snap->time;
  return absl::OkStatus();
}

absl::StatusOr<Snapshot> PgSampler::Sample(absl::Time now) {
  if (conn_ == nullptr) {
    if (absl::Status s = Connect(); !s.ok()) return s;
  }
  Snapshot snap;
  snap.time = now;
  snap.db.own_rollbacks = pg::OwnRollbacks(dsn_);
  // The database's counters first: a change flushed after them is in the
  // tables read next, and moves them for the next sample.
  absl::StatusOr<pg::Result> db = conn_->Query(kDatabaseSql);
  int64_t rows_counter = -1;
  int64_t files = -1;
  if (db.ok() && !db->empty()) {
    rows_counter = (*db)[0].Int(14);
    files = (*db)[0].Int(15);
  }
  // A backend flushes a table's counters and its database's in one pass:
  // one more read after the counters stop covers a table flushed last. The
  // statistics can lag a commit by seconds; a TRUNCATE, DROP or CREATE moves
  // pg_class's tables and their files at once (column 15).
  const bool moved = rows_counter_ < 0 || rows_counter != rows_counter_ || files != files_;
  snap.database_changed = moved || moved_before_;
  const bool read = snap.database_changed || now - last_read_ >= options_.reread_every;
  absl::Status tables = db.ok() && read ? ReadTables(&snap) : db.status();
  if (!tables.ok()) {
    const bool lost = !conn_->IsOpen() || absl::IsUnavailable(tables);
    Disconnect();
    if (lost) return tables;
    return absl::InternalError(absl::StrCat("sampling query failed: ", tables.message()));
  }
  if (!read) {
    snap.tables = last_tables_;
    snap.all_oids = last_oids_;
    snap.tables_reread = false;
  }
  moved_before_ = moved;
  rows_counter_ = rows_counter;
  files_ = files;
  if (!db->empty()) {
    const pg::Row& r = (*db)[0];
    snap.database = r.Text(0);
    snap.db.xact_commit = r.Int(1);
    snap.db.xact_rollback = r.Int(2);
    snap.db.deadlocks = r.Int(3);
    snap.db.sessions = r.Int(4);
    snap.db.sessions_fatal = r.Int(5);
    snap.db.sessions_killed = r.Int(6);
    ParseLsn(r.Text(7), &snap.wal_lsn);
    snap.server_time = FromEpoch(r.Double(8));
    snap.archiver.enabled = r.Bool(9);
    snap.archiver.archived = r.Int(10);
    snap.archiver.failed = r.Int(11);
    snap.archiver.last_archived = FromEpoch(r.Double(12));
    snap.archiver.last_failed = FromEpoch(r.Double(13));
  }
  return snap;
}

}  // namespace pgwarden
