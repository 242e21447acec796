#ifndef PGWARDEN_BENCH_SCALE_SCALE_SETUP_H_
#define PGWARDEN_BENCH_SCALE_SCALE_SETUP_H_

// The parts of scale_bench that set a path up and measure the database side:
// command-line options, the cluster's extra settings, the agent's role,
// pg_stat_statements filled with N entries, a small write load, and the CPU
// of the agent's own server processes.

#include <sys/types.h>

#include <atomic>
#include <map>
#include <memory>
#include <optional>
#include <pqxx/pqxx>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "devtools/local_postgres.h"

namespace pgwarden::bench {

// ScaleOptions are scale_bench's arguments:
//   TABLES SECONDS [--path stream|statements|stats] [--statements N]
// Without --path and --statements the bench runs as it always did (the agent
// connects as the superuser with the default target config, no write load).
struct ScaleOptions {
  int tables = 5000;
  int seconds = 60;
  // Empty: the old invocation. Otherwise stream, statements or stats.
  std::string path;
  // Distinct pg_stat_statements entries to create before measuring; -1: none
  // (and pg_stat_statements is left as table creation filled it).
  int statements = -1;

  bool Extended() const { return !path.empty() || statements >= 0; }
};

absl::StatusOr<ScaleOptions> ParseScaleOptions(int argc, char** argv);

// ClusterOptions are the throwaway cluster's settings for `o`: logical WAL
// for the stream path, room in pg_stat_statements for the entries.
LocalPostgresOptions ClusterOptions(const ScaleOptions& o);

// PrepareDatabase creates the agent's role (with REPLICATION for the stream
// path) and pg_stat_statements in `db`, then resets pg_stat_statements and
// fills it with o.statements distinct entries. Only for Extended() runs.
absl::Status PrepareDatabase(const LocalPostgres& pg, const std::string& db, const ScaleOptions& o);

// TargetLines are the target keys that select o.path (none for the old
// invocation and for statements, the default).
std::string TargetLines(const ScaleOptions& o);

// StatementEntries is the number of rows in pg_stat_statements, or -1.
int StatementEntries(const LocalPostgres& pg, const std::string& db);

// WriteLoad inserts, deletes and updates a few rows of t1..t5 about five
// times a second, one transaction at a time, as the superuser with
// application_name bench-load, until Stop.
class WriteLoad {
 public:
  explicit WriteLoad(std::string dsn) : dsn_(std::move(dsn)) {}
  ~WriteLoad() { Stop(); }
  WriteLoad(const WriteLoad&) = delete;
  WriteLoad& operator=(const WriteLoad&) = delete;
  void Start();
  void Stop();
  int64_t transactions() const { return transactions_.load(); }
  int64_t errors() const { return errors_.load(); }

 private:
  void Run();
  std::string dsn_;
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> transactions_{0};
  std::atomic<int64_t> errors_{0};
  std::thread thread_;
};

// CpuSeconds is utime + stime of `pid` from /proc/PID/stat, or nullopt when
// the process is gone.
std::optional<double> CpuSeconds(pid_t pid);

// BackendCpu sums the CPU of the server processes serving the agent: those
// whose application_name starts with "pgwarden" in pg_stat_activity (the
// walsender of the change stream among them). Poll lists them and reads
// their CPU; a process is counted from the first poll that saw it to the
// last poll that could read it.
class BackendCpu {
 public:
  explicit BackendCpu(std::string dsn) : dsn_(std::move(dsn)) {}
  void Poll();
  double client_seconds() const;
  double walsender_seconds() const;
  int pids_seen() const { return static_cast<int>(seen_.size()); }
  int poll_errors() const { return poll_errors_; }

 private:
  struct Seen {
    bool walsender = false;
    double first = 0;
    double last = 0;
  };
  std::string dsn_;
  std::unique_ptr<pqxx::connection> conn_;
  std::map<pid_t, Seen> seen_;
  int poll_errors_ = 0;
};

}  // namespace pgwarden::bench

#endif  // PGWARDEN_BENCH_SCALE_SCALE_SETUP_H_
