#ifndef PGWARDEN_PG_CONNECT_H_
#define PGWARDEN_PG_CONNECT_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "pg/session.h"

namespace pgwarden {
namespace pg {

// ConnectOptions are what every pgwarden connection sets, on top of the
// target's DSN.
struct ConnectOptions {
  std::string application_name = "pgwarden";
  absl::Duration connect_timeout = absl::Seconds(5);
  // Session-level statement_timeout and lock_timeout; zero leaves the
  // server's setting.
  absl::Duration statement_timeout = absl::ZeroDuration();
  absl::Duration lock_timeout = absl::ZeroDuration();
  // TCP keepalives, so that a dead server or a silent network drop is
  // noticed without waiting for the kernel's two hours.
  bool keepalives = true;
  absl::Duration keepalives_idle = absl::Seconds(30);
  absl::Duration keepalives_interval = absl::Seconds(10);
  int keepalives_count = 3;
};

// ConnectionString is `dsn` (keyword=value or postgresql:// URI form) with
// the options' connection parameters added (they win over the DSN's).
std::string ConnectionString(const std::string& dsn, const ConnectOptions& options);

// Connect opens a session: connection parameters from `options`, then the
// session-level timeouts. Errors are Unavailable and name the DSN redacted.
absl::StatusOr<std::unique_ptr<Session>> Connect(const std::string& dsn,
                                                 const ConnectOptions& options);

// OwnRollbacks is how many transactions pgwarden's own sessions opened with
// `dsn` have rolled back on the server since the process started (every
// failed statement: Query outside a transaction, or Execute's own
// transaction). Each failure is flushed to the server's statistics before it
// is counted, so that a later read of pg_stat_database that shows it sees it
// counted here too. Thread-safe.
int64_t OwnRollbacks(const std::string& dsn);

// WithDatabase returns `dsn` (keyword or URI form) naming database `db`
// instead of its own (a later dbname overrides an earlier one).
std::string WithDatabase(const std::string& dsn, const std::string& db);

// RedactDsn returns `dsn` with any password (keyword form password=...,
// or URI form user:password@) replaced by "***".
std::string RedactDsn(const std::string& dsn);

// DsnPassword returns the password `dsn` holds (keyword or URI form, as
// libpq reads it: unquoted, percent-decoded), "" if none or unparsable.
std::string DsnPassword(const std::string& dsn);

}  // namespace pg
}  // namespace pgwarden

#endif  // PGWARDEN_PG_CONNECT_H_
