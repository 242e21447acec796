#ifndef PGWARDEN_SOURCES_LOGGED_STATEMENT_H_
#define PGWARDEN_SOURCES_LOGGED_STATEMENT_H_

#include <string>

#include "absl/strings/string_view.h"

namespace pgwarden {

// LoggedStatement is one statement that log_statement wrote to the server
// log ("LOG:  statement: ..." or "LOG:  execute <name>: ..."), with the user
// and database of the session that sent it.
struct LoggedStatement {
  // user/database come from csvlog's fields, or from a stderr
  // log_line_prefix holding %u@%d (the Debian default '%m [%p] %q%u@%d ')
  // or user=%u and db=%d; "" when the prefix names neither.
  std::string user;
  std::string database;
  std::string statement;  // the first physical line, continuation lines appended
};

// ParseLoggedStatement recognises a statement logged by log_statement in one
// server log line (stderr with any log_line_prefix, with or without the
// SQLSTATE of log_error_verbosity = verbose, or csvlog). English messages.
bool ParseLoggedStatement(absl::string_view line, LoggedStatement* out);

// IsSchemaChange is true for a statement whose first word is ALTER or DROP
// (the ones a destructive_ddl may come from); the server log keeps only
// these.
bool IsSchemaChange(absl::string_view statement);

// kMaxLoggedStatementBytes bounds the text kept of one logged statement.
inline constexpr size_t kMaxLoggedStatementBytes = 4096;

}  // namespace pgwarden

#endif  // PGWARDEN_SOURCES_LOGGED_STATEMENT_H_
