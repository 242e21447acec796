#ifndef PGWARDEN_FASTPATH_STATEMENT_TEXT_H_
#define PGWARDEN_FASTPATH_STATEMENT_TEXT_H_

#include <vector>

#include "absl/strings/string_view.h"
#include "signals/table_ref.h"

namespace pgwarden {

// ChangeVerb is what a statement's rows did to a table.
enum class ChangeVerb { kInsert, kUpdate, kDelete, kTruncate };

// StatementKind is how the statement counters treat one statement.
enum class StatementKind {
  kOther,      // no write the counters attribute (SELECT, DDL, DROP, ...)
  kWrite,      // rows (or a TRUNCATE) go to `tables`
  kAmbiguous,  // writes to several tables, or several verbs: skipped
  kRollback,   // ROLLBACK / ABORT in any form (also TO SAVEPOINT, PREPARED)
};

// StatementClass is the classification of one statement's text.
struct StatementClass {
  StatementKind kind = StatementKind::kOther;
  ChangeVerb verb = ChangeVerb::kDelete;
  // kWrite: one table for INSERT / UPDATE / DELETE; every table named for
  // TRUNCATE (each is truncated, no row count is split).
  std::vector<TableRef> tables;
};

// ClassifyStatement classifies statement text (as pg_stat_statements keeps
// it, normalized with $n placeholders) with FindTableWrites, plus a plain
// top-level INSERT INTO and ROLLBACK / ABORT. A ROLLBACK TO SAVEPOINT counts
// as a rollback on purpose: it may have undone the rows of a held write and
// the counters cannot tell which, so the write is discarded (never reported
// when it might not have happened).
StatementClass ClassifyStatement(absl::string_view text);

// CalledProcedure returns the procedure a `CALL [schema.]name(...)` statement
// names (false if `text` is not a CALL).
bool CalledProcedure(absl::string_view text, TableRef* procedure);

}  // namespace pgwarden

#endif  // PGWARDEN_FASTPATH_STATEMENT_TEXT_H_
