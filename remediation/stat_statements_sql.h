#ifndef PGWARDEN_REMEDIATION_STAT_STATEMENTS_SQL_H_
#define PGWARDEN_REMEDIATION_STAT_STATEMENTS_SQL_H_

namespace pgwarden {

// The pg_stat_statements queries shared by attribution, the statement fast
// path and `pgwarden check`.

// kStatementsInstalledSql counts the extension in the current database.
inline constexpr char kStatementsInstalledSql[] =
    "SELECT count(*) FROM pg_extension WHERE extname = 'pg_stat_statements'";

// kStatementCountersSql reads the counters of the current database without
// query text: userid, queryid, toplevel, calls, rows.
inline constexpr char kStatementCountersSql[] =
    "SELECT s.userid::bigint, s.queryid, s.toplevel, s.calls, s.rows "
    "FROM pg_stat_statements(false) s "
    "WHERE s.dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) "
    "  AND s.queryid IS NOT NULL";

}  // namespace pgwarden

#endif  // PGWARDEN_REMEDIATION_STAT_STATEMENTS_SQL_H_
