#ifndef PGWARDEN_CORE_LOCAL_POSTGRES_H_
#define PGWARDEN_CORE_LOCAL_POSTGRES_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace pgwarden {

// LocalPostgresOptions configures a throwaway PostgreSQL cluster.
struct LocalPostgresOptions {
  std::string bin_dir = "/usr/lib/postgresql/15/bin";
  // Extra postgresql.conf lines.
  std::vector<std::string> extra_conf;
  // Roles that may connect over TCP without a password; every other role
  // must use scram-sha-256 (so that failed logins can be produced).
  std::vector<std::string> trusted_roles = {"postgres", "pgwarden"};
  // Keep the data directory after Stop / destruction (for debugging).
  bool keep = false;
  // restore_from: a base backup (BaseBackup) to start from instead of
  // initdb, in targeted recovery (recovery.signal; the recovery settings go
  // in extra_conf).
  std::string restore_from;
};

// LocalPostgres is a PostgreSQL 15 cluster in a temporary directory, listening
// on a free port on 127.0.0.1, with pg_stat_statements preloaded. When run as
// root the server runs as the `postgres` user. The server is stopped by pid
// and the directory removed when the object is destroyed.
class LocalPostgres {
 public:
  static absl::StatusOr<std::unique_ptr<LocalPostgres>> Start(LocalPostgresOptions options = {});
  ~LocalPostgres();
  LocalPostgres(const LocalPostgres&) = delete;
  LocalPostgres& operator=(const LocalPostgres&) = delete;

  int port() const { return port_; }
  pid_t pid() const { return pid_; }
  const std::string& dir() const { return dir_; }
  std::string log_path() const { return dir_ + "/postgres.log"; }
  // Dsn returns a libpq keyword/value connection string.
  std::string Dsn(const std::string& dbname = "postgres", const std::string& user = "postgres",
                  const std::string& password = "") const;

  // Stop shuts the server down (fast mode) and waits for it to exit.
  absl::Status Stop();
  // Resume starts the stopped server again on the same port and data.
  absl::Status Resume();
  bool running() const { return pid_ > 0; }

  // BaseBackup takes a base backup of the running cluster into `dest`
  // (pg_basebackup, WAL streamed, fast checkpoint).
  absl::Status BaseBackup(const std::string& dest) const;

  // Psql runs SQL through psql as the superuser against `dbname`, returning
  // its output (tuples only, unaligned) or an error with psql's message.
  absl::StatusOr<std::string> Psql(const std::string& sql,
                                   const std::string& dbname = "postgres") const;

 private:
  explicit LocalPostgres(LocalPostgresOptions options) : options_(std::move(options)) {}
  absl::Status Init();
  absl::Status InitFromBackup();
  // Configure appends the cluster's settings and writes pg_hba.conf.
  absl::Status Configure();
  absl::Status Launch();
  absl::Status WaitReady();

  LocalPostgresOptions options_;
  std::string dir_;
  int port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace pgwarden

#endif  // PGWARDEN_CORE_LOCAL_POSTGRES_H_
