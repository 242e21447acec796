#ifndef PGWARDEN_PG_SESSION_H_
#define PGWARDEN_PG_SESSION_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "pg/result.h"

namespace pgwarden {
namespace pg {

// Params are a statement's $1, $2, ... values, as text.
using Params = std::vector<std::string>;

// Session is one connection to one database: the only way pgwarden talks to
// PostgreSQL. Errors are absl::Status: Unavailable when the connection is
// lost (the session is then closed), DeadlineExceeded for a statement or
// lock timeout, PermissionDenied, NotFound, InvalidArgument or Internal for
// other SQL errors (by SQLSTATE), the server's message in each. Not
// thread-safe: one thread uses a session at a time.
class Session {
 public:
  virtual ~Session() = default;

  // Query runs one statement outside an explicit transaction.
  virtual absl::StatusOr<Result> Query(absl::string_view sql, const Params& params = {}) = 0;

  // Execute runs one statement in its own transaction, bounded by
  // SET LOCAL statement_timeout and lock_timeout of `timeout` (at least
  // 100 ms), and commits it.
  virtual absl::StatusOr<Result> Execute(absl::string_view sql, absl::Duration timeout,
                                         const Params& params = {}) = 0;

  // QuoteName quotes an identifier (a role, schema or table name).
  virtual std::string QuoteName(absl::string_view name) const = 0;
  // Quote quotes a string literal.
  virtual std::string Quote(absl::string_view value) const = 0;

  // BackendPid is the server process of this session (0 when closed).
  virtual int BackendPid() const = 0;
  // IsOpen is false once the connection is lost or closed.
  virtual bool IsOpen() const = 0;

  // FailedStatements counts this session's statements the server rejected
  // (each one transaction rolled back in pg_stat_database.xact_rollback).
  virtual int64_t FailedStatements() const { return 0; }

  // QualifiedName quotes schema and table as one "schema"."table".
  std::string QualifiedName(absl::string_view schema, absl::string_view table) const;
};

// SqlState returns the SQLSTATE a failed statement's status carries ("" if
// none).
std::string SqlState(const absl::Status& status);

// kSqlStatePayload is the status payload URL that holds the SQLSTATE.
inline constexpr char kSqlStatePayload[] = "pgwarden.pg/sqlstate";

}  // namespace pg
}  // namespace pgwarden

#endif  // PGWARDEN_PG_SESSION_H_
