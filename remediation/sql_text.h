#ifndef PGWARDEN_REMEDIATION_SQL_TEXT_H_
#define PGWARDEN_REMEDIATION_SQL_TEXT_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "signals/table_ref.h"

namespace pgwarden {

// WriteVerb is the kind of a row-removing or row-changing statement.
enum class WriteVerb { kDelete, kUpdate, kTruncate, kDrop };

// WriteVerbName returns "DELETE", "UPDATE", "TRUNCATE" or "DROP".
const char* WriteVerbName(WriteVerb verb);

// TableWrite is one table touched by a write statement found in SQL text.
struct TableWrite {
  WriteVerb verb;
  TableRef table;
  // has_where is false for a DELETE or UPDATE that affects every row.
  bool has_where = false;
};

// FindTableWrites scans SQL text (possibly several statements, possibly
// normalized by pg_stat_statements with $1 placeholders) for DELETE, UPDATE,
// TRUNCATE and DROP TABLE, including inside WITH clauses. String literals,
// dollar-quoted bodies and comments are skipped; unquoted identifiers are
// folded to lower case as PostgreSQL does. A heuristic, not a parser.
std::vector<TableWrite> FindTableWrites(absl::string_view sql);

// TableAlter is one destructive ALTER TABLE found in SQL text.
struct TableAlter {
  TableRef table;
  // what: "DROP COLUMN email" or "ALTER COLUMN amount TYPE" (the first
  // destructive subcommand).
  std::string what;
};

// FindDestructiveAlters scans SQL text (as FindTableWrites does) for ALTER
// TABLE statements that destroy data: DROP [COLUMN] c, ALTER [COLUMN] c
// [SET DATA] TYPE t (a rewrite, possibly USING an expression). ADD COLUMN,
// RENAME, SET DEFAULT, ... are not destructive.
std::vector<TableAlter> FindDestructiveAlters(absl::string_view sql);

// FindDroppedObjects scans SQL text for DROP <object> [IF EXISTS] a, b ...
// statements, `object` being "schema" or "database", and returns the names
// (unquoted identifiers lower-cased, quoted ones verbatim).
std::vector<std::string> FindDroppedObjects(absl::string_view sql, absl::string_view object);

// RefersTo reports whether `ref` as written in SQL (maybe unqualified) can
// name the table schema.table.
bool RefersTo(const TableRef& ref, const std::string& schema, const std::string& table);

}  // namespace pgwarden

#endif  // PGWARDEN_REMEDIATION_SQL_TEXT_H_
