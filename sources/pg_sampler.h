#ifndef PGWARDEN_SOURCES_PG_SAMPLER_H_
#define PGWARDEN_SOURCES_PG_SAMPLER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "pg/session.h"

namespace pgwarden {

// kSampleTablesSql is the per-table sampling query (columns: oid,
// relfilenode, schema, name, live, dead, inserted, updated, deleted,
// maintenance count, modified since analyze, root partitioned table's
// schema and name).
extern const char kSampleTablesSql[];

// TableStat is one user table's statistics at one sample.
struct TableStat {
  int64_t oid = 0;
  int64_t relfilenode = 0;
  std::string schema;
  std::string name;
  // live_rows is pg_stat_user_tables.n_live_tup: committed live rows.
  int64_t live_rows = 0;
  int64_t dead_rows = 0;
  // Cumulative counters; n_tup_del also counts deletes that rolled back.
  int64_t inserted = 0;
  int64_t updated = 0;
  int64_t deleted = 0;
  // vacuum + analyze counts: a change means n_live_tup was re-estimated.
  int64_t maintenance_count = 0;
  // modified is n_mod_since_analyze: rows changed by committed transactions
  // since the last ANALYZE (which resets it); aborted changes are not in it.
  int64_t modified = 0;
  // parent_schema/parent_name: for a partition, its root partitioned table
  // (pg_partition_root); empty otherwise.
  std::string parent_schema;
  std::string parent_name;
};

// DatabaseStat is pg_stat_database for the connected database.
struct DatabaseStat {
  int64_t xact_commit = 0;
  int64_t xact_rollback = 0;
  int64_t deadlocks = 0;
  int64_t sessions = 0;
  int64_t sessions_fatal = 0;
  int64_t sessions_killed = 0;
  // own_rollbacks: of xact_rollback, the transactions pgwarden's own
  // sessions on this DSN rolled back (its failed statements), cumulative
  // since the agent started; read just before pg_stat_database, so that
  // xact_rollback already shows every one of them.
  int64_t own_rollbacks = 0;
};

// ArchiverStat is pg_stat_archiver (cluster-wide) and whether archive_mode
// is on.
struct ArchiverStat {
  bool enabled = false;
  int64_t archived = 0;  // segments archived
  int64_t failed = 0;    // failed attempts
  absl::Time last_archived = absl::InfinitePast();
  absl::Time last_failed = absl::InfinitePast();
};

// Snapshot is everything one tick read from one target.
struct Snapshot {
  absl::Time time;
  // wal_lsn is pg_current_wal_lsn() (on a standby, the last replayed LSN)
  // and server_time the server's clock, read in the same round trip.
  uint64_t wal_lsn = 0;
  absl::Time server_time = absl::InfinitePast();
  ArchiverStat archiver;
  std::string database;
  std::vector<TableStat> tables;  // only the watched ones
  DatabaseStat db;
  // all_oids lists every user table seen, watched or not, so that a table
  // renamed out of the watch list is not mistaken for a dropped one.
  std::vector<int64_t> all_oids;
  // tables_reread: the per-table query ran. False when the database's row
  // counters (pg_stat_database tup_inserted, tup_updated, tup_deleted, which
  // every table's changes and every catalog change move, TRUNCATE and DROP
  // included) stood still since the last two reads: `tables` and `all_oids`
  // are then the last read's, unchanged.
  bool tables_reread = true;
  // database_changed: those counters moved at this sample or the one before
  // (true at the first sample after a connect): a table, its columns or its
  // counters may have changed.
  bool database_changed = true;
};

// TableFilter selects tables by shell globs on "schema.table" (fnmatch).
// An empty include list means every table; exclude wins over include.
class TableFilter {
 public:
  TableFilter() = default;
  TableFilter(std::vector<std::string> include, std::vector<std::string> exclude)
      : include_(std::move(include)), exclude_(std::move(exclude)) {}
  bool Matches(const std::string& schema, const std::string& table) const;

 private:
  std::vector<std::string> include_;
  std::vector<std::string> exclude_;
};

// PgSamplerOptions tunes the sampler's connection.
struct PgSamplerOptions {
  absl::Duration connect_timeout = absl::Seconds(5);
  absl::Duration statement_timeout = absl::Seconds(5);
  std::string application_name = "pgwarden";
  // reread_every: the per-table query runs at least this often even while
  // the database's row counters stand still (VACUUM re-estimates n_live_tup
  // without moving them).
  absl::Duration reread_every = absl::Seconds(10);
};

// PgSampler reads one Snapshot per call from one database: one query for
// pg_stat_database and, unless its row counters stood still (see
// Snapshot::tables_reread), one for all tables (kSampleTablesSql). It owns its connection, connects
// lazily and drops the connection on any error so that the next call reconnects.
class PgSampler {
 public:
  PgSampler(std::string dsn, TableFilter filter, PgSamplerOptions options = {});
  ~PgSampler();
  PgSampler(const PgSampler&) = delete;
  PgSampler& operator=(const PgSampler&) = delete;

  // Sample connects if needed and reads a snapshot. Errors are Unavailable
  // (cannot connect) or Internal (query failed), with the cause; the DSN's
  // password never appears in them.
  absl::StatusOr<Snapshot> Sample(absl::Time now);

  // session returns the live session (nullptr when disconnected), for
  // follow-up queries on the same thread (attribution, the session guard).
  pg::Session* session() { return conn_.get(); }
  // Disconnect drops the connection.
  void Disconnect();
  // SetFilter replaces the table filter (a reloaded config); the next
  // sample reads every table.
  void SetFilter(TableFilter filter) {
    filter_ = std::move(filter);
    rows_counter_ = -1;
  }

 private:
  absl::Status Connect();
  // ReadTables runs kSampleTablesSql into `snap` and keeps a copy.
  absl::Status ReadTables(Snapshot* snap);

  std::string dsn_;
  TableFilter filter_;
  PgSamplerOptions options_;
  std::unique_ptr<pg::Session> conn_;
  // The last per-table read, its time and the row counters seen at the
  // last sample (-1: none since the connect).
  std::vector<TableStat> last_tables_;
  std::vector<int64_t> last_oids_;
  absl::Time last_read_ = absl::InfinitePast();
  int64_t rows_counter_ = -1;
  int64_t files_ = -1;  // tables in pg_class plus the sum of their file numbers
  bool moved_before_ = true;
};

}  // namespace pgwarden

#endif  // PGWARDEN_SOURCES_PG_SAMPLER_H_
