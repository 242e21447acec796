// scale_bench: the agent's CPU share and RSS while watching N tables at a
// 1 s interval, and the /metrics scrape time. Whole-process figures from
// /proc, printed as a table. Usage: scale_bench [TABLES=5000] [SECONDS=60]

#include <httplib.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <iostream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "devtools/local_postgres.h"
#include "devtools/process.h"

namespace {

// CpuSeconds is utime + stime of `pid` from /proc/PID/stat.
double CpuSeconds(pid_t pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/stat"));
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const size_t close = text.rfind(')');
  std::istringstream ss(text.substr(close + 2));
  std::string field;
  double ticks = 0;
  for (int i = 3; i <= 15 && ss >> field; ++i) {
    if (i == 14 || i == 15) ticks += std::stod(field);
  }
  return ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// RssMiB is VmRSS of `pid`.
double RssMiB(pid_t pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(in, line)) {
    if (absl::StartsWith(line, "VmRSS:")) return std::stod(line.substr(6)) / 1024.0;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  int tables = 5000;
  int seconds = 60;
  if (argc > 1 && !absl::SimpleAtoi(argv[1], &tables)) return 2;
  if (argc > 2 && !absl::SimpleAtoi(argv[2], &seconds)) return 2;
  auto pg = pgwarden::LocalPostgres::Start();
  if (!pg.ok()) {
    std::cerr << pg.status() << "\n";
    return 1;
  }
  std::cout << "creating " << tables << " tables ...\n";
  auto made = (*pg)->Psql("CREATE DATABASE bench");
  if (!made.ok()) {
    std::cerr << made.status() << "\n";
    return 1;
  }
  // In chunks: one transaction holding thousands of new relations' locks
  // would exhaust the lock table.
  for (int first = 1; first <= tables; first += 250) {
    const int last = std::min(tables, first + 249);
    auto created = (*pg)->Psql(
        absl::StrCat("DO $$ BEGIN FOR i IN ", first, "..", last,
                     " LOOP EXECUTE format('CREATE TABLE t%s (id int primary key, v text)', i); "
                     "EXECUTE format('INSERT INTO t%s SELECT g, ''x'' FROM generate_series(1, 10) "
                     "g', i); END LOOP; END $$"),
        "bench");
    if (!created.ok()) {
      std::cerr << created.status() << "\n";
      return 1;
    }
  }
  (void)(*pg)->Psql("ANALYZE", "bench");
  const std::string dir = (*pg)->dir();
  const int port = *pgwarden::FreeTcpPort();
  std::ofstream(dir + "/bench.yaml")
      << "listen: 127.0.0.1:" << port << "\ninterval: 1s\n"
      << "state_dir: " << dir << "/state\n"
      << "targets:\n  - name: bench\n    dsn: \"" << (*pg)->Dsn("bench") << "\"\n";
  pgwarden::ProcessOptions opts;
  opts.argv = {PGWARDEN_BINARY, "run", "--config", dir + "/bench.yaml"};
  opts.stdout_path = dir + "/agent.log";
  opts.stderr_path = dir + "/agent.log";
  auto pid = pgwarden::SpawnProcess(opts);
  if (!pid.ok()) return 1;
  absl::SleepFor(absl::Seconds(10));  // warm up: connect, first samples, series created
  const double cpu0 = CpuSeconds(*pid);
  const absl::Time t0 = absl::Now();
  double max_rss = 0;
  double scrape_total = 0;
  int scrapes = 0;
  size_t scrape_bytes = 0;
  while (absl::Now() - t0 < absl::Seconds(seconds)) {
    absl::SleepFor(absl::Seconds(5));
    max_rss = std::max(max_rss, RssMiB(*pid));
    httplib::Client cli("127.0.0.1", port);
    const absl::Time s = absl::Now();
    auto res = cli.Get("/metrics");
    if (res && res->status == 200) {
      scrape_total += absl::ToDoubleSeconds(absl::Now() - s);
      scrape_bytes = res->body.size();
      ++scrapes;
    }
  }
  const double cpu = CpuSeconds(*pid) - cpu0;
  const double wall = absl::ToDoubleSeconds(absl::Now() - t0);
  pgwarden::StopProcess(*pid, absl::Seconds(10));
  std::cout << "tables_watched " << tables << "\ninterval_s 1\nwindow_s " << wall
            << "\ncpu_share_pct " << 100.0 * cpu / wall << "\nrss_max_mib " << max_rss
            << "\nscrape_mean_ms " << (scrapes ? 1000.0 * scrape_total / scrapes : -1)
            << "\nscrape_bytes " << scrape_bytes << "\n";
  return 0;
}
