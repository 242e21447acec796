#include "devtools/local_postgres.h"

#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "devtools/process.h"

namespace pgwarden {
namespace {
constexpr char kServerUser[] = "postgres";

std::string RunAs() { return ::geteuid() == 0 ? kServerUser : ""; }

// RunTool runs a server tool to completion (at most 120 s); a non-zero exit
// is an error quoting its output.
absl::Status RunTool(const ProcessOptions& p, const std::string& what) {
  std::string out;
  absl::StatusOr<int> code = RunCommand(p, absl::Seconds(120), &out);
  if (!code.ok()) return code.status();
  if (*code != 0) return absl::InternalError(absl::StrCat(what, " failed: ", out));
  return absl::OkStatus();
}
}  // namespace

absl::StatusOr<std::unique_ptr<LocalPostgres>> LocalPostgres::Start(LocalPostgresOptions options) {
  std::unique_ptr<LocalPostgres> pg(new LocalPostgres(std::move(options)));
  if (absl::Status s = pg->Init(); !s.ok()) return s;
  if (absl::Status s = pg->Launch(); !s.ok()) return s;
  return pg;
}

LocalPostgres::~LocalPostgres() {
  if (pid_ > 0) StopProcess(pid_, absl::Seconds(20));
  pid_ = -1;
  if (!options_.keep && !dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
}

std::string LocalPostgres::Dsn(const std::string& dbname, const std::string& user,
                               const std::string& password) const {
  std::string dsn = absl::StrCat("host=127.0.0.1 port=", port_, " dbname=", dbname, " user=", user,
                                 " connect_timeout=5");
  if (!password.empty()) absl::StrAppend(&dsn, " password=", password);
  return dsn;
}

absl::Status LocalPostgres::Init() {
  char tmpl[] = "/tmp/pgwarden-pg-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) return absl::InternalError("mkdtemp failed");
  dir_ = tmpl;
  if (!RunAs().empty()) {
    if (absl::Status s = ChownToUser(dir_, RunAs()); !s.ok()) return s;
  }
  absl::StatusOr<int> port = FreeTcpPort();
  if (!port.ok()) return port.status();
  port_ = *port;

  if (!options_.restore_from.empty()) return InitFromBackup();
  ProcessOptions init;
  init.argv = {options_.bin_dir + "/initdb",
               "-D",
               dir_ + "/data",
               "-U",
               "postgres",
               "--auth=trust",
               "-E",
               "UTF8",
               "--locale=C",
               "--no-sync"};
  init.run_as_user = RunAs();
  init.cwd = dir_;
  if (absl::Status s = RunTool(init, "initdb"); !s.ok()) return s;
  return Configure();
}

absl::Status LocalPostgres::InitFromBackup() {
  ProcessOptions copy;
  copy.argv = {"/bin/cp", "-a", options_.restore_from, dir_ + "/data"};
  copy.run_as_user = RunAs();
  if (absl::Status s = RunTool(copy, "copying the base backup"); !s.ok()) return s;
  std::ofstream signal(dir_ + "/data/recovery.signal");
  signal.close();
  if (!RunAs().empty()) (void)ChownToUser(dir_ + "/data/recovery.signal", RunAs());
  return Configure();
}

absl::Status LocalPostgres::BaseBackup(const std::string& dest) const {
  ProcessOptions p;
  p.argv = {options_.bin_dir + "/pg_basebackup",
            "-h",
            "127.0.0.1",
            "-p",
            absl::StrCat(port_),
            "-U",
            "postgres",
            "-D",
            dest,
            "-X",
            "stream",
            "--checkpoint=fast",
            "--no-sync"};
  p.run_as_user = RunAs();
  p.cwd = dir_;
  return RunTool(p, "pg_basebackup");
}

absl::Status LocalPostgres::Configure() {
  std::ofstream conf(dir_ + "/data/postgresql.conf", std::ios::app);
  conf << "\n# pgwarden throwaway cluster\n"
       << "listen_addresses = '127.0.0.1'\n"
       << "port = " << port_ << "\n"
       << "unix_socket_directories = '" << dir_ << "'\n"
       << "shared_preload_libraries = 'pg_stat_statements'\n"
       << "pg_stat_statements.track = all\n"
       << "max_connections = 200\n"
       << "fsync = off\n"
       << "synchronous_commit = off\n"
       << "full_page_writes = off\n"
       << "log_connections = on\n"
       << "log_line_prefix = '%m [%p] %q%u@%d '\n"
       << "password_encryption = 'scram-sha-256'\n";
  for (const std::string& line : options_.extra_conf) conf << line << "\n";
  conf.close();
  if (!conf) return absl::InternalError("cannot write postgresql.conf");

  std::ofstream hba(dir_ + "/data/pg_hba.conf", std::ios::trunc);
  hba << "local all all trust\n";
  if (!options_.trusted_roles.empty()) {
    hba << "host all " << absl::StrJoin(options_.trusted_roles, ",") << " 127.0.0.1/32 trust\n";
    hba << "host replication " << absl::StrJoin(options_.trusted_roles, ",")
        << " 127.0.0.1/32 trust\n";
  }
  hba << "host all all 127.0.0.1/32 scram-sha-256\n";
  hba.close();
  if (!hba) return absl::InternalError("cannot write pg_hba.conf");
  return absl::OkStatus();
}

absl::Status LocalPostgres::Launch() {
  ProcessOptions run;
  run.argv = {options_.bin_dir + "/postgres", "-D", dir_ + "/data"};
  run.run_as_user = RunAs();
  run.stdout_path = log_path();
  run.stderr_path = log_path();
  run.cwd = dir_;
  if (!RunAs().empty()) {
    std::ofstream touch(log_path(), std::ios::app);
    touch.close();
    (void)ChownToUser(log_path(), RunAs());
  }
  absl::StatusOr<pid_t> pid = SpawnProcess(run);
  if (!pid.ok()) return pid.status();
  pid_ = *pid;
  return WaitReady();
}

absl::Status LocalPostgres::WaitReady() {
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  while (absl::Now() < deadline) {
    ProcessOptions ready;
    ready.argv = {options_.bin_dir + "/pg_isready",
                  "-q",
                  "-h",
                  "127.0.0.1",
                  "-p",
                  absl::StrCat(port_),
                  "-t",
                  "2"};
    absl::StatusOr<int> code = RunCommand(ready, absl::Seconds(5), nullptr);
    if (code.ok() && *code == 0) return absl::OkStatus();
    if (WaitProcess(pid_, absl::ZeroDuration()).ok()) {
      pid_ = -1;
      std::ifstream in(log_path());
      std::string log((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      return absl::InternalError(absl::StrCat("postgres exited during start-up: ", log));
    }
    absl::SleepFor(absl::Milliseconds(100));
  }
  return absl::DeadlineExceededError("postgres did not become ready within 60s");
}

absl::Status LocalPostgres::Stop() {
  if (pid_ <= 0) return absl::OkStatus();
  // SIGINT is PostgreSQL's "fast" shutdown: disconnect clients, checkpoint.
  ::kill(pid_, SIGINT);
  absl::StatusOr<int> code = WaitProcess(pid_, absl::Seconds(30));
  if (!code.ok()) StopProcess(pid_, absl::Seconds(1));
  pid_ = -1;
  return absl::OkStatus();
}

absl::Status LocalPostgres::Resume() {
  if (pid_ > 0) return absl::OkStatus();
  return Launch();
}

absl::StatusOr<std::string> LocalPostgres::Psql(const std::string& sql,
                                                const std::string& dbname) const {
  ProcessOptions p;
  p.argv = {options_.bin_dir + "/psql",
            "-X",
            "-q",
            "-At",
            "-v",
            "ON_ERROR_STOP=1",
            "-h",
            "127.0.0.1",
            "-p",
            absl::StrCat(port_),
            "-U",
            "postgres",
            "-d",
            dbname,
            "-c",
            sql};
  std::string out;
  absl::StatusOr<int> code = RunCommand(p, absl::Seconds(300), &out);
  if (!code.ok()) return code.status();
  if (*code != 0) return absl::InternalError(absl::StrCat("psql failed (", *code, "): ", out));
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

}  // namespace pgwarden
