#ifndef PGWARDEN_BENCH_SIDE_BY_SIDE_SIDE_BY_SIDE_MEASURE_H_
#define PGWARDEN_BENCH_SIDE_BY_SIDE_SIDE_BY_SIDE_MEASURE_H_

// The measuring half of side_by_side_bench: two exporters scraped once a
// second each, their process CPU and peak RSS from /proc, and the CPU of the
// PostgreSQL server processes each one's login role holds.

#include <sys/types.h>

#include <array>
#include <atomic>
#include <map>
#include <memory>
#include <pqxx/pqxx>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/time.h"

namespace pgwarden::bench {

// ScrapeFigures are one exporter's scrapes over the window: plain ones
// (Accept-Encoding: identity) and, when the server answered
// Content-Encoding: gzip, the gzip ones (bytes as sent, compressed).
struct ScrapeFigures {
  std::vector<double> plain_ms;
  std::vector<double> plain_bytes;
  std::vector<double> gzip_ms;
  std::vector<double> gzip_bytes;
  int failures = 0;
  // series is the number of sample lines in the last plain body.
  int series = 0;
};

// Scraper requests /metrics from 127.0.0.1:port once a second on its own
// thread (the next request at once when one took longer, the overrun slots
// skipped) until `end` or *stop. Every kGzipEvery-th request asks for gzip.
class Scraper {
 public:
  static constexpr int kGzipEvery = 5;
  explicit Scraper(int port) : port_(port) {}
  ~Scraper() { Join(); }
  Scraper(const Scraper&) = delete;
  Scraper& operator=(const Scraper&) = delete;
  void Start(absl::Time end, const std::atomic<bool>* stop);
  void Join();
  // figures: valid after Join.
  const ScrapeFigures& figures() const { return figures_; }

 private:
  void Run(absl::Time end, const std::atomic<bool>* stop);
  void ScrapeOnce(bool gzip);
  int port_;
  int scrapes_ = 0;
  ScrapeFigures figures_;
  std::thread thread_;
};

// MetricsReady is true once GET /metrics on 127.0.0.1:port answers 200,
// tried every half second for at most `timeout`.
bool MetricsReady(int port, absl::Duration timeout, const std::atomic<bool>& stop);

// RoleCpu sums the CPU of the server processes whose
// pg_stat_activity.usename is one of the watched roles. Poll lists them and
// reads /proc/PID/stat; a process counts from the first poll that saw it to
// the last poll that could read it, so reconnects are followed.
class RoleCpu {
 public:
  RoleCpu(std::string probe_dsn, std::vector<std::string> roles)
      : dsn_(std::move(probe_dsn)), roles_(std::move(roles)) {}
  void Poll();
  double seconds(const std::string& role) const;
  int pids(const std::string& role) const;
  int poll_errors() const { return poll_errors_; }

 private:
  struct Seen {
    std::string role;
    double first = 0;
    double last = 0;
  };
  std::string dsn_;
  std::vector<std::string> roles_;
  std::unique_ptr<pqxx::connection> conn_;
  std::map<pid_t, Seen> seen_;
  int poll_errors_ = 0;
};

// Side is one exporter under test.
struct Side {
  std::string name;
  std::string role;  // its PostgreSQL login role
  pid_t pid = -1;
  int port = 0;
};

// SideFigures are one side's figures over the window.
struct SideFigures {
  double process_cpu_s = 0;
  double backend_cpu_s = 0;
  int backend_pids = 0;
  double peak_rss_mib = 0;  // VmHWM, over the process's whole life
  ScrapeFigures scrapes;
};

// Window is the whole measurement.
struct Window {
  double wall_s = 0;
  std::array<SideFigures, 2> sides;
  int poll_errors = 0;
};

// Measure runs both sides' scrapers and polls their server processes once a
// second for `seconds` (or until `stop`), then reads CPU and peak RSS.
Window Measure(const std::array<Side, 2>& sides, const std::string& probe_dsn, int seconds,
               const std::atomic<bool>& stop);

// PrintTable prints one row per side and the ratio second / first.
void PrintTable(const std::array<Side, 2>& sides, const Window& w);

}  // namespace pgwarden::bench

#endif  // PGWARDEN_BENCH_SIDE_BY_SIDE_SIDE_BY_SIDE_MEASURE_H_
