// side_by_side_bench: pgwarden and Debian's postgres_exporter (0.11.1, with
// its shipped example queries file) watching the same throwaway PostgreSQL
// 15 cluster at the same time, each scraped once a second by this program.
// Per side: CPU of the process and of its server processes (by login role:
// pgwarden, exporter), peak RSS, median scrape time and body bytes; one
// table with the ratio exporter / pgwarden. Usage:
//   side_by_side_bench [--tables N=5000] [--seconds S=60] [--databases D=1]
//                      [--pgwarden PATH] [--exporter PATH] [--queries FILE]
//                      [--keep]
// With D > 1 there are D databases bench1..benchD of N/D tables each;
// pgwarden watches them through one server target and the exporter with
// --auto-discover-databases (and the queries file's pg_process_idle marked
// master: true, see ForDiscovery).

#include <signal.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <iostream>

#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "bench/side_by_side/side_by_side_measure.h"
#include "devtools/local_postgres.h"
#include "devtools/process.h"

namespace {

std::atomic<bool> g_stop{false};

void OnSignal(int /*signo*/) { g_stop.store(true); }

struct Options {
  int tables = 5000;
  int seconds = 60;
  int databases = 1;
  std::string pgwarden = PGWARDEN_BINARY;
  std::string exporter = "/usr/bin/prometheus-postgres-exporter";
  std::string queries;  // empty: the package's example file
  bool keep = false;    // keep the cluster's directory and the logs
};

constexpr const char* kUsage =
    "usage: side_by_side_bench [--tables N] [--seconds S] [--databases D] [--pgwarden PATH] "
    "[--exporter PATH] [--queries FILE] [--keep]";

absl::StatusOr<Options> ParseOptions(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--keep") {
      o.keep = true;
      continue;
    }
    if (i + 1 >= argc) return absl::InvalidArgumentError(kUsage);
    const std::string value = argv[++i];
    bool ok = true;
    if (arg == "--tables") {
      ok = absl::SimpleAtoi(value, &o.tables);
    } else if (arg == "--seconds") {
      ok = absl::SimpleAtoi(value, &o.seconds);
    } else if (arg == "--databases") {
      ok = absl::SimpleAtoi(value, &o.databases);
    } else if (arg == "--pgwarden") {
      o.pgwarden = value;
    } else if (arg == "--exporter") {
      o.exporter = value;
    } else if (arg == "--queries") {
      o.queries = value;
    } else {
      ok = false;
    }
    if (!ok) return absl::InvalidArgumentError(absl::StrCat(arg, " ", value, ": ", kUsage));
  }
  if (o.databases < 1) return absl::InvalidArgumentError("--databases: at least 1");
  if (o.tables < o.databases) return absl::InvalidArgumentError("--tables: at least D");
  if (o.seconds < 5) return absl::InvalidArgumentError("--seconds: at least 5");
  return o;
}

std::vector<std::string> DatabaseNames(const Options& o) {
  if (o.databases == 1) return {"bench"};
  std::vector<std::string> names;
  for (int d = 1; d <= o.databases; ++d) names.push_back(absl::StrCat("bench", d));
  return names;
}

absl::Status Sql(const pgwarden::LocalPostgres& pg, const std::string& sql,
                 const std::string& db = "postgres") {
  absl::StatusOr<std::string> r = pg.Psql(sql, db);
  return r.ok() ? absl::OkStatus() : r.status();
}

// CreateDatabase makes `db` with `tables` tables t1..tN of 10 rows and
// pg_stat_statements, in chunks: one transaction holding thousands of new
// relations' locks would exhaust the lock table.
absl::Status CreateDatabase(const pgwarden::LocalPostgres& pg, const std::string& db, int tables) {
  if (absl::Status s = Sql(pg, absl::StrCat("CREATE DATABASE ", db)); !s.ok()) return s;
  for (int first = 1; first <= tables && !g_stop.load(); first += 250) {
    const int last = std::min(tables, first + 249);
    const std::string sql = absl::StrCat(
        "DO $$ BEGIN FOR i IN ", first, "..", last,
        " LOOP EXECUTE format('CREATE TABLE t%s (id int primary key, v text)', i); "
        "EXECUTE format('INSERT INTO t%s SELECT g, ''x'' FROM generate_series(1, 10) g', i); "
        "END LOOP; END $$");
    if (absl::Status s = Sql(pg, sql, db); !s.ok()) return s;
  }
  if (absl::Status s = Sql(pg, "CREATE EXTENSION IF NOT EXISTS pg_stat_statements", db); !s.ok()) {
    return s;
  }
  return Sql(pg, "ANALYZE", db);
}

absl::Status Prepare(const pgwarden::LocalPostgres& pg, const Options& o) {
  std::cout << "creating " << o.databases << " database(s) of " << o.tables / o.databases
            << " tables ...\n";
  for (const char* role : {"pgwarden", "exporter"}) {
    if (absl::Status s =
            Sql(pg, absl::StrCat("CREATE ROLE ", role, " LOGIN; GRANT pg_monitor TO ", role));
        !s.ok()) {
      return s;
    }
  }
  for (const std::string& db : DatabaseNames(o)) {
    if (absl::Status s = CreateDatabase(pg, db, o.tables / o.databases); !s.ok()) return s;
  }
  // Table creation left an entry per statement; the reset is cluster-wide.
  return Sql(pg, "SELECT pg_stat_statements_reset()", DatabaseNames(o).front());
}

// QueriesFile is o.queries, or the example queries file of the Debian
// package (decompressed into `dir` when shipped gzipped).
absl::StatusOr<std::string> QueriesFile(const Options& o, const std::string& dir) {
  if (!o.queries.empty()) return o.queries;
  pgwarden::ProcessOptions list;
  list.argv = {"dpkg", "-L", "prometheus-postgres-exporter"};
  std::string out;
  absl::StatusOr<int> code = pgwarden::RunCommand(list, absl::Seconds(30), &out);
  if (!code.ok() || *code != 0) {
    return absl::NotFoundError("dpkg -L prometheus-postgres-exporter failed: install the package");
  }
  for (absl::string_view line : absl::StrSplit(out, '\n')) {
    if (absl::EndsWith(line, "/queries.yaml")) return std::string(line);
    if (!absl::EndsWith(line, "/queries.yaml.gz")) continue;
    pgwarden::ProcessOptions gunzip;
    gunzip.argv = {"gzip", "-dc", std::string(line)};
    gunzip.stdout_path = dir + "/queries.yaml";
    gunzip.stderr_path = dir + "/gzip.log";
    code = pgwarden::RunCommand(gunzip, absl::Seconds(30), nullptr);
    if (code.ok() && *code == 0) return gunzip.stdout_path;
    return absl::InternalError(absl::StrCat("gzip -dc ", line, " failed"));
  }
  return absl::NotFoundError("no queries.yaml in prometheus-postgres-exporter");
}

// ForDiscovery copies `queries` into `dir` with pg_process_idle marked
// `master: true`: that query reads the cluster-wide pg_stat_activity without
// a datname label, so run once per discovered database (0.11.1 labels every
// database of a server with the same server="host:port") its series collide
// and the exporter answers every scrape with HTTP 500.
absl::StatusOr<std::string> ForDiscovery(const std::string& queries, const std::string& dir) {
  std::ifstream in(queries);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", queries));
  const std::string path = dir + "/queries-discover.yaml";
  std::ofstream out(path);
  std::string line;
  bool marked = false;
  while (std::getline(in, line)) {
    out << line << "\n";
    if (line == "pg_process_idle:") {
      out << "  master: true\n";
      marked = true;
    }
  }
  if (!marked) std::cout << "note: no pg_process_idle in " << queries << "; copied as is\n";
  return path;
}

std::string WritePgwardenConfig(const pgwarden::LocalPostgres& pg, const Options& o, int port) {
  std::string path = pg.dir() + "/pgwarden.yaml";
  std::ofstream out(path);
  out << "listen: 127.0.0.1:" << port << "\ninterval: 1s\nstate_dir: " << pg.dir()
      << "/state\ntargets:\n";
  if (o.databases == 1) {
    out << "  - name: bench\n    dsn: \"" << pg.Dsn("bench", "pgwarden") << "\"\n";
  } else {
    out << "  - name: main\n    dsn: \"" << pg.Dsn("postgres", "pgwarden") << "\"\n"
        << "    databases:\n      include: [\"*\"]\n      exclude: [\"template*\", \"postgres\"]\n";
  }
  return path;
}

absl::StatusOr<pid_t> StartPgwarden(const pgwarden::LocalPostgres& pg, const Options& o, int port) {
  pgwarden::ProcessOptions p;
  p.argv = {o.pgwarden, "run", "--config", WritePgwardenConfig(pg, o, port)};
  p.stdout_path = pg.dir() + "/pgwarden.log";
  p.stderr_path = p.stdout_path;
  return pgwarden::SpawnProcess(p);
}

absl::StatusOr<pid_t> StartExporter(const pgwarden::LocalPostgres& pg, const Options& o,
                                    const std::string& queries, int port) {
  const std::string db = DatabaseNames(o).front();
  pgwarden::ProcessOptions p;
  p.argv = {o.exporter, absl::StrCat("--extend.query-path=", queries),
            absl::StrCat("--web.listen-address=127.0.0.1:", port)};
  if (o.databases > 1) {
    p.argv.insert(p.argv.end(), {"--auto-discover-databases",
                                 "--exclude-databases=postgres,template0,template1"});
  }
  p.env = {absl::StrCat("DATA_SOURCE_NAME=postgresql://exporter@127.0.0.1:", pg.port(), "/", db,
                        "?sslmode=disable")};
  p.stdout_path = pg.dir() + "/exporter.log";
  p.stderr_path = p.stdout_path;
  return pgwarden::SpawnProcess(p);
}

// Child stops the process it holds, by pid, when it goes out of scope.
struct Child {
  pid_t pid = -1;
  ~Child() {
    if (pid > 0) pgwarden::StopProcess(pid, absl::Seconds(10));
  }
};

// FirstLine is the first line of `argv`'s combined output (a version).
std::string FirstLine(std::vector<std::string> argv) {
  pgwarden::ProcessOptions p;
  p.argv = std::move(argv);
  std::string out;
  (void)pgwarden::RunCommand(p, absl::Seconds(10), &out);
  return out.substr(0, out.find('\n'));
}

// ReportLog prints how many lines of `path` mention an error, and the first
// three distinct ones (without their timestamp).
void ReportLog(const std::string& name, const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::vector<std::string> distinct;
  int n = 0;
  for (int read = 0; read < 1000000 && std::getline(in, line); ++read) {
    if (!absl::StrContains(absl::AsciiStrToLower(line), "error")) continue;
    ++n;
    if (absl::StartsWith(line, "ts="))
      line = line.substr(std::min(line.size(), line.find(' ') + 1));
    line = line.substr(0, 300);
    if (distinct.size() < 3 &&
        std::find(distinct.begin(), distinct.end(), line) == distinct.end()) {
      distinct.push_back(line);
    }
  }
  std::cout << name << " log: " << n << " error lines\n";
  for (const std::string& d : distinct) std::cout << "  " << d << "\n";
}

// ReportQueries prints the statements `role` spent the most server time on
// during the run (pg_stat_statements, reset when the tables were made):
// where its backends' CPU goes.
void ReportQueries(const pgwarden::LocalPostgres& pg, const Options& o, const std::string& role) {
  absl::StatusOr<std::string> out = pg.Psql(
      absl::StrCat("SELECT lpad(calls::text, 7) || ' calls ' || lpad(round(total_exec_time)::text, "
                   "7) || ' ms  ' || left(regexp_replace(query, '\\s+', ' ', 'g'), 100) "
                   "FROM pg_stat_statements s JOIN pg_roles r ON r.oid = s.userid "
                   "WHERE r.rolname = '",
                   role, "' ORDER BY total_exec_time DESC LIMIT 8"),
      DatabaseNames(o).front());
  std::cout << role << "'s statements by server time:\n"
            << (out.ok() ? *out : out.status().ToString()) << "\n";
}

// Ports are two distinct free ports.
std::array<int, 2> Ports() {
  const int a = pgwarden::FreeTcpPort().value_or(0);
  int b = a;
  for (int i = 0; i < 20 && b == a; ++i) b = pgwarden::FreeTcpPort().value_or(0);
  return {a, b};
}

int Run(const Options& o) {
  pgwarden::LocalPostgresOptions c;
  c.trusted_roles = {"postgres", "pgwarden", "exporter"};
  c.keep = o.keep;
  auto pg = pgwarden::LocalPostgres::Start(c);
  if (!pg.ok()) {
    std::cerr << pg.status() << "\n";
    return 1;
  }
  if (o.keep) std::cout << "keeping " << (*pg)->dir() << " (logs: pgwarden.log, exporter.log)\n";
  absl::StatusOr<std::string> queries = QueriesFile(o, (*pg)->dir());
  if (queries.ok() && o.databases > 1) queries = ForDiscovery(*queries, (*pg)->dir());
  if (!queries.ok()) {
    std::cerr << queries.status() << "\n";
    return 1;
  }
  if (absl::Status s = Prepare(**pg, o); !s.ok() || g_stop.load()) {
    std::cerr << (s.ok() ? "interrupted" : s.ToString()) << "\n";
    return 1;
  }
  const std::array<int, 2> ports = Ports();
  std::array<pgwarden::bench::Side, 2> sides = {
      pgwarden::bench::Side{"pgwarden", "pgwarden", -1, ports[0]},
      pgwarden::bench::Side{"postgres_exporter", "exporter", -1, ports[1]}};
  Child warden{StartPgwarden(**pg, o, ports[0]).value_or(-1)};
  Child exporter{StartExporter(**pg, o, *queries, ports[1]).value_or(-1)};
  sides[0].pid = warden.pid;
  sides[1].pid = exporter.pid;
  for (const pgwarden::bench::Side& s : sides) {
    if (s.pid <= 0 || !pgwarden::bench::MetricsReady(s.port, absl::Seconds(60), g_stop)) {
      std::cerr << s.name << " did not serve /metrics on 127.0.0.1:" << s.port << "\n";
      ReportLog(s.name,
                (*pg)->dir() + "/" + (s.role == "exporter" ? "exporter" : "pgwarden") + ".log");
      return 1;
    }
  }
  std::cout << "warming up 10 s (pgwarden: connect, first samples; exporter: one scrape done)\n";
  absl::SleepFor(absl::Seconds(10));
  std::cout << "measuring " << o.seconds << " s ...\n";
  const pgwarden::bench::Window w =
      pgwarden::bench::Measure(sides, (*pg)->Dsn("postgres"), o.seconds, g_stop);
  pgwarden::bench::PrintTable(sides, w);
  ReportQueries(**pg, o, "pgwarden");
  ReportLog("pgwarden", (*pg)->dir() + "/pgwarden.log");
  ReportLog("postgres_exporter", (*pg)->dir() + "/exporter.log");
  return g_stop.load() ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) {
  absl::StatusOr<Options> o = ParseOptions(argc, argv);
  if (!o.ok()) {
    std::cerr << "side_by_side_bench: " << o.status().message() << "\n";
    return 2;
  }
  struct sigaction sa = {};
  sa.sa_handler = OnSignal;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  std::cout << "pgwarden: " << FirstLine({o->pgwarden, "--version"})
            << "\npostgres_exporter: " << FirstLine({o->exporter, "--version"}) << "\ntables "
            << o->tables / o->databases * o->databases << " in " << o->databases << " database(s), "
            << o->seconds << " s, scrape interval 1 s, pgwarden interval 1s\n";
  return Run(*o);
}
