// scale_bench: the agent's CPU share and RSS while watching N tables at a
// 1 s interval, and the /metrics scrape time. Whole-process figures from
// /proc, printed as a table. Usage:
//   scale_bench [TABLES=5000] [SECONDS=60] [--path stream|statements|stats]
//               [--statements N]
// With --path or --statements the agent connects as role pgwarden on the
// chosen path, pg_stat_statements holds N entries, a small write load runs
// on t1..t5 (the same for every path), and the CPU of the agent's server
// processes (application_name pgwarden*, the walsender among them) is
// reported too. Without them the run is the one it always was.

#include <httplib.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <iostream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "bench/scale/scale_setup.h"
#include "devtools/local_postgres.h"
#include "devtools/process.h"

namespace {

using pgwarden::bench::ScaleOptions;

// RssMiB is VmRSS of `pid`.
double RssMiB(pid_t pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(in, line)) {
    if (absl::StartsWith(line, "VmRSS:")) return std::stod(line.substr(6)) / 1024.0;
  }
  return 0;
}

bool CreateTables(const pgwarden::LocalPostgres& pg, int tables) {
  std::cout << "creating " << tables << " tables ...\n";
  auto made = pg.Psql("CREATE DATABASE bench");
  if (!made.ok()) {
    std::cerr << made.status() << "\n";
    return false;
  }
  // In chunks: one transaction holding thousands of new relations' locks
  // would exhaust the lock table.
  for (int first = 1; first <= tables; first += 250) {
    const int last = std::min(tables, first + 249);
    auto created = pg.Psql(
        absl::StrCat("DO $$ BEGIN FOR i IN ", first, "..", last,
                     " LOOP EXECUTE format('CREATE TABLE t%s (id int primary key, v text)', i); "
                     "EXECUTE format('INSERT INTO t%s SELECT g, ''x'' FROM generate_series(1, 10) "
                     "g', i); END LOOP; END $$"),
        "bench");
    if (!created.ok()) {
      std::cerr << created.status() << "\n";
      return false;
    }
  }
  (void)pg.Psql("ANALYZE", "bench");
  return true;
}

// WriteConfig writes the agent's config: the old one, or for an extended
// run the chosen path with role pgwarden.
std::string WriteConfig(const pgwarden::LocalPostgres& pg, const ScaleOptions& o, int port) {
  const std::string& dir = pg.dir();
  const std::string dsn = o.Extended() ? pg.Dsn("bench", "pgwarden") : pg.Dsn("bench");
  std::ofstream(dir + "/bench.yaml") << "listen: 127.0.0.1:" << port << "\ninterval: 1s\n"
                                     << "state_dir: " << dir << "/state\n"
                                     << "targets:\n  - name: bench\n    dsn: \"" << dsn << "\"\n"
                                     << pgwarden::bench::TargetLines(o);
  return dir + "/bench.yaml";
}

struct Window {
  double wall = 0;
  double cpu = 0;
  double max_rss = 0;
  double scrape_total = 0;
  int scrapes = 0;
  size_t scrape_bytes = 0;
  double backend_client = 0;
  double backend_walsender = 0;
  int backend_pids = 0;
  int backend_poll_errors = 0;
  std::string stream_up = "absent";  // pgwarden_change_stream_up at the last scrape
};

// MetricValue is the value of the first sample of `name` in `body`.
std::string MetricValue(const std::string& body, const std::string& name) {
  size_t at = 0;
  while ((at = body.find(name, at)) != std::string::npos) {
    const bool line_start = at == 0 || body[at - 1] == '\n';
    const char next = at + name.size() < body.size() ? body[at + name.size()] : '\n';
    if (line_start && (next == '{' || next == ' ')) {
      const size_t end = body.find('\n', at);
      const std::string line = body.substr(at, end == std::string::npos ? end : end - at);
      return line.substr(line.rfind(' ') + 1);
    }
    at += name.size();
  }
  return "absent";
}

// Measure runs the window: the agent's CPU over it, its RSS and a /metrics
// scrape every 5 s, and (extended runs) its server processes' CPU polled
// every second.
Window Measure(pid_t agent, int port, const std::string& probe_dsn, const ScaleOptions& o) {
  Window w;
  pgwarden::bench::BackendCpu backends(probe_dsn);
  if (o.Extended()) backends.Poll();
  const double cpu0 = pgwarden::bench::CpuSeconds(agent).value_or(0);
  const absl::Time t0 = absl::Now();
  for (int tick = 1; absl::Now() - t0 < absl::Seconds(o.seconds); ++tick) {
    absl::SleepFor(absl::Seconds(1));
    if (o.Extended()) backends.Poll();
    if (tick % 5 != 0) continue;
    w.max_rss = std::max(w.max_rss, RssMiB(agent));
    httplib::Client cli("127.0.0.1", port);
    const absl::Time s = absl::Now();
    auto res = cli.Get("/metrics");
    if (res && res->status == 200) {
      w.scrape_total += absl::ToDoubleSeconds(absl::Now() - s);
      w.scrape_bytes = res->body.size();
      w.stream_up = MetricValue(res->body, "pgwarden_change_stream_up");
      ++w.scrapes;
    }
  }
  w.cpu = pgwarden::bench::CpuSeconds(agent).value_or(cpu0) - cpu0;
  if (o.Extended()) backends.Poll();
  w.wall = absl::ToDoubleSeconds(absl::Now() - t0);
  w.backend_client = backends.client_seconds();
  w.backend_walsender = backends.walsender_seconds();
  w.backend_pids = backends.pids_seen();
  w.backend_poll_errors = backends.poll_errors();
  return w;
}

void Print(const ScaleOptions& o, const Window& w) {
  std::cout << "tables_watched " << o.tables << "\ninterval_s 1\nwindow_s " << w.wall
            << "\ncpu_share_pct " << 100.0 * w.cpu / w.wall << "\nrss_max_mib " << w.max_rss
            << "\nscrape_mean_ms " << (w.scrapes ? 1000.0 * w.scrape_total / w.scrapes : -1)
            << "\nscrape_bytes " << w.scrape_bytes << "\n";
  if (!o.Extended()) {
    std::cout << "path default (target config as before; agent connects as the superuser)\n";
    return;
  }
  const double backends = w.backend_client + w.backend_walsender;
  std::cout << "path " << o.path << "\nbackend_cpu_share_pct " << 100.0 * backends / w.wall
            << "\nbackend_client_cpu_share_pct " << 100.0 * w.backend_client / w.wall
            << "\nbackend_walsender_cpu_share_pct " << 100.0 * w.backend_walsender / w.wall
            << "\nbackend_pids_seen " << w.backend_pids << "\nagent_plus_backends_cpu_share_pct "
            << 100.0 * (w.cpu + backends) / w.wall << "\nchange_stream_up " << w.stream_up << "\n";
  if (w.backend_poll_errors > 0) {
    std::cout << "backend_poll_errors " << w.backend_poll_errors << "\n";
  }
}

}  // namespace

int main(int argc, char** argv) {
  absl::StatusOr<ScaleOptions> o = pgwarden::bench::ParseScaleOptions(argc, argv);
  if (!o.ok()) {
    std::cerr << "scale_bench: " << o.status().message() << "\n";
    return 2;
  }
  if (o->Extended() && o->path.empty()) o->path = "statements";
  auto pg = pgwarden::LocalPostgres::Start(pgwarden::bench::ClusterOptions(*o));
  if (!pg.ok()) {
    std::cerr << pg.status() << "\n";
    return 1;
  }
  if (!CreateTables(**pg, o->tables)) return 1;
  if (o->Extended()) {
    std::cout << "path " << o->path << ": filling pg_stat_statements with "
              << std::max(0, o->statements) << " statements ...\n";
    if (absl::Status s = pgwarden::bench::PrepareDatabase(**pg, "bench", *o); !s.ok()) {
      std::cerr << s << "\n";
      return 1;
    }
  }
  const int port = *pgwarden::FreeTcpPort();
  pgwarden::ProcessOptions opts;
  opts.argv = {PGWARDEN_BINARY, "run", "--config", WriteConfig(**pg, *o, port)};
  opts.stdout_path = (*pg)->dir() + "/agent.log";
  opts.stderr_path = (*pg)->dir() + "/agent.log";
  pgwarden::bench::WriteLoad load((*pg)->Dsn("bench"));
  if (o->Extended()) load.Start();
  auto pid = pgwarden::SpawnProcess(opts);
  if (!pid.ok()) return 1;
  absl::SleepFor(absl::Seconds(10));  // warm up: connect, first samples, series created
  const int entries_before = o->Extended() ? pgwarden::bench::StatementEntries(**pg, "bench") : 0;
  const Window w = Measure(*pid, port, (*pg)->Dsn("bench"), *o);
  pgwarden::StopProcess(*pid, absl::Seconds(10));
  load.Stop();
  Print(*o, w);
  if (o->Extended()) {
    std::cout << "statements_entries_start " << entries_before << "\nstatements_entries_end "
              << pgwarden::bench::StatementEntries(**pg, "bench") << "\nwrite_load_tx "
              << load.transactions() << "\nwrite_load_errors " << load.errors() << "\n";
  }
  return 0;
}
