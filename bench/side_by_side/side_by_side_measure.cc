#include "bench/side_by_side/side_by_side_measure.h"

#include <httplib.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <iostream>
#include <limits>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "bench/scale/scale_setup.h"

namespace pgwarden::bench {
namespace {

constexpr double kNone = std::numeric_limits<double>::quiet_NaN();

// Median of `v`, or NaN when empty.
double Median(std::vector<double> v) {
  if (v.empty()) return kNone;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// PeakRssMiB is VmHWM of `pid`, or NaN.
double PeakRssMiB(pid_t pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(in, line)) {
    if (absl::StartsWith(line, "VmHWM:")) return std::stod(line.substr(6)) / 1024.0;
  }
  return kNone;
}

// SampleLines counts the lines of a text exposition that are samples.
int SampleLines(const std::string& body) {
  int n = 0;
  size_t at = 0;
  while (at < body.size()) {
    size_t end = body.find('\n', at);
    if (end == std::string::npos) end = body.size();
    if (end > at && body[at] != '#') ++n;
    at = end + 1;
  }
  return n;
}

}  // namespace

void Scraper::Start(absl::Time end, const std::atomic<bool>* stop) {
  thread_ = std::thread([this, end, stop] { Run(end, stop); });
}

void Scraper::Join() {
  if (thread_.joinable()) thread_.join();
}

void Scraper::Run(absl::Time end, const std::atomic<bool>* stop) {
  const absl::Time start = absl::Now();
  // Slot i starts at start + i s. A scrape longer than a second skips the
  // slots it overran, as Prometheus does: the next starts at once, on the
  // next slot's number, so no side is scraped past `end`.
  for (int64_t slot = 0; !stop->load();) {
    const absl::Time next = start + absl::Seconds(slot);
    if (next >= end) break;
    const absl::Duration wait = next - absl::Now();
    if (wait > absl::ZeroDuration()) absl::SleepFor(wait);
    ScrapeOnce(scrapes_++ % kGzipEvery == kGzipEvery - 1);
    slot = std::max(slot + 1, absl::ToInt64Seconds(absl::Now() - start));
  }
}

void Scraper::ScrapeOnce(bool gzip) {
  httplib::Client cli("127.0.0.1", port_);
  cli.set_decompress(false);  // keep gzip bodies as sent
  cli.set_connection_timeout(5, 0);
  cli.set_read_timeout(60, 0);
  const httplib::Headers headers = {{"Accept-Encoding", gzip ? "gzip" : "identity"}};
  const absl::Time t0 = absl::Now();
  httplib::Result res = cli.Get("/metrics", headers);
  const double ms = absl::ToDoubleMilliseconds(absl::Now() - t0);
  if (!res || res->status != 200) {
    ++figures_.failures;
    return;
  }
  const auto bytes = static_cast<double>(res->body.size());
  if (res->get_header_value("Content-Encoding") == "gzip") {
    figures_.gzip_ms.push_back(ms);
    figures_.gzip_bytes.push_back(bytes);
    return;
  }
  figures_.plain_ms.push_back(ms);
  figures_.plain_bytes.push_back(bytes);
  figures_.series = SampleLines(res->body);
}

bool MetricsReady(int port, absl::Duration timeout, const std::atomic<bool>& stop) {
  const absl::Time end = absl::Now() + timeout;
  while (!stop.load() && absl::Now() < end) {
    httplib::Client cli("127.0.0.1", port);
    cli.set_connection_timeout(1, 0);
    cli.set_read_timeout(60, 0);
    httplib::Result res = cli.Get("/metrics", {{"Accept-Encoding", "identity"}});
    if (res && res->status == 200) return true;
    absl::SleepFor(absl::Milliseconds(500));
  }
  return false;
}

void RoleCpu::Poll() {
  // Those already seen first: a process that has just exited keeps the last
  // figure read.
  for (auto& [pid, s] : seen_) {
    if (std::optional<double> cpu = CpuSeconds(pid)) s.last = *cpu;
  }
  try {
    if (!conn_) conn_ = std::make_unique<pqxx::connection>(dsn_ + " application_name=bench-probe");
    pqxx::nontransaction tx(*conn_);
    std::vector<std::string> quoted;
    for (const std::string& role : roles_) quoted.push_back(tx.quote(role));
    const pqxx::result r =
        tx.exec(absl::StrCat("SELECT pid, usename FROM pg_stat_activity WHERE usename IN (",
                             absl::StrJoin(quoted, ", "), ") AND pid <> pg_backend_pid()"));
    for (const pqxx::row& row : r) {
      const auto pid = static_cast<pid_t>(row[0].as<int>());
      if (seen_.count(pid) != 0) continue;
      std::optional<double> cpu = CpuSeconds(pid);
      if (!cpu) continue;
      seen_[pid] = Seen{row[1].as<std::string>(), *cpu, *cpu};
    }
  } catch (const std::exception&) {
    ++poll_errors_;
    conn_.reset();
  }
}

double RoleCpu::seconds(const std::string& role) const {
  double sum = 0;
  for (const auto& [pid, s] : seen_) {
    if (s.role == role) sum += s.last - s.first;
  }
  return sum;
}

int RoleCpu::pids(const std::string& role) const {
  int n = 0;
  for (const auto& [pid, s] : seen_) n += s.role == role ? 1 : 0;
  return n;
}

Window Measure(const std::array<Side, 2>& sides, const std::string& probe_dsn, int seconds,
               const std::atomic<bool>& stop) {
  Window w;
  RoleCpu backends(probe_dsn, {sides[0].role, sides[1].role});
  backends.Poll();
  std::array<double, 2> cpu0{};
  for (size_t i = 0; i < sides.size(); ++i) cpu0[i] = CpuSeconds(sides[i].pid).value_or(0);
  const absl::Time t0 = absl::Now();
  const absl::Time end = t0 + absl::Seconds(seconds);
  std::array<Scraper, 2> scrapers = {Scraper(sides[0].port), Scraper(sides[1].port)};
  for (Scraper& s : scrapers) s.Start(end, &stop);
  for (int tick = 1; !stop.load() && t0 + absl::Seconds(tick) <= end; ++tick) {
    const absl::Duration wait = t0 + absl::Seconds(tick) - absl::Now();
    if (wait > absl::ZeroDuration()) absl::SleepFor(wait);
    backends.Poll();
  }
  for (Scraper& s : scrapers) s.Join();
  backends.Poll();
  w.wall_s = absl::ToDoubleSeconds(absl::Now() - t0);
  for (size_t i = 0; i < sides.size(); ++i) {
    SideFigures& f = w.sides[i];
    f.process_cpu_s = CpuSeconds(sides[i].pid).value_or(cpu0[i]) - cpu0[i];
    f.backend_cpu_s = backends.seconds(sides[i].role);
    f.backend_pids = backends.pids(sides[i].role);
    f.peak_rss_mib = PeakRssMiB(sides[i].pid);
    f.scrapes = scrapers[i].figures();
  }
  w.poll_errors = backends.poll_errors();
  return w;
}

namespace {

constexpr int kColumns = 8;
constexpr const char* kHeads[kColumns] = {"cpu %",     "db cpu %",   "total cpu %", "rss MiB",
                                          "scrape ms", "body bytes", "gzip bytes",  "series"};
using Row = std::array<double, kColumns>;

Row RowOf(const SideFigures& f, double wall) {
  const double proc = 100.0 * f.process_cpu_s / wall;
  const double db = 100.0 * f.backend_cpu_s / wall;
  return {proc,
          db,
          proc + db,
          f.peak_rss_mib,
          Median(f.scrapes.plain_ms),
          Median(f.scrapes.plain_bytes),
          Median(f.scrapes.gzip_bytes),
          f.scrapes.series > 0 ? static_cast<double>(f.scrapes.series) : kNone};
}

// Num is `v` with `decimals` decimals, or "-" when there is no figure.
std::string Num(double v, int decimals) {
  if (std::isnan(v) || std::isinf(v)) return "-";
  return absl::StrFormat("%.*f", decimals, v);
}

std::string Cell(double v, int decimals) { return absl::StrFormat("%13s", Num(v, decimals)); }

void PrintRow(const std::string& label, const Row& row, bool ratio) {
  std::string line = absl::StrFormat("%-24s", label);
  for (int c = 0; c < kColumns; ++c) {
    // Byte and series counts are whole numbers; ratios and the rest get 2
    // decimals.
    const int decimals = ratio ? 2 : (c == 5 || c == 6 || c == 7 ? 0 : 2);
    absl::StrAppend(&line, Cell(row[c], decimals));
  }
  std::cout << line << "\n";
}

}  // namespace

void PrintTable(const std::array<Side, 2>& sides, const Window& w) {
  const Row a = RowOf(w.sides[0], w.wall_s);
  const Row b = RowOf(w.sides[1], w.wall_s);
  Row ratio{};
  for (int c = 0; c < kColumns; ++c) ratio[c] = a[c] > 0 ? b[c] / a[c] : kNone;
  std::string head = absl::StrFormat("%-24s", "");
  for (const char* h : kHeads) absl::StrAppend(&head, absl::StrFormat("%13s", h));
  std::cout << "\n" << head << "\n";
  PrintRow(sides[0].name, a, false);
  PrintRow(sides[1].name, b, false);
  PrintRow(absl::StrCat("ratio ", sides[1].role, "/", sides[0].role), ratio, true);
  std::cout << "\nwindow_s " << absl::StrFormat("%.1f", w.wall_s) << "\n";
  for (size_t i = 0; i < sides.size(); ++i) {
    const SideFigures& f = w.sides[i];
    std::cout << sides[i].name << ": scrapes " << f.scrapes.plain_ms.size() << " plain + "
              << f.scrapes.gzip_ms.size() << " gzip, failed " << f.scrapes.failures
              << ", gzip scrape ms p50 " << Num(Median(f.scrapes.gzip_ms), 2)
              << ", server processes seen " << f.backend_pids << " (role " << sides[i].role
              << ")\n";
  }
  if (w.poll_errors > 0) std::cout << "backend_poll_errors " << w.poll_errors << "\n";
}

}  // namespace pgwarden::bench
