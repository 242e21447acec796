// Queue tables (issue: signals the statistics miss, part 2): a job queue
// written 100 rows a second and trimmed in bursts by its worker (every 1 to
// 3 s, everything older than 1 s: the level jumps between ~100 and ~300
// rows, each trim taking more than half of it) is normal churn and pages
// nothing; the same table emptied at many times its usual delete rate is
// paged. From the statistics only, and via the change stream.
//
// A hidden case (run by bench/queue_false_pages.sh) counts false pages
// under pgbench (TPC-B-like, 4 clients) with pgbench_history trimmed while
// it is written.

#include <sys/stat.h>

#include <atomic>
#include <cstdlib>
#include <iostream>
#include <pqxx/pqxx>
#include <random>
#include <thread>

#include "absl/strings/match.h"
#include "absl/time/clock.h"
#include "devtools/process.h"
#include "tests/integration/commit_time.h"

namespace pgwarden::testing {
namespace {

// TrimmedQueue writes `per_tick` rows every 100 ms into `table` and, every
// 1 to 3 s (seeded), deletes its rows older than 1 s, on its own connection,
// until stopped (at most 15 minutes).
class TrimmedQueue {
 public:
  TrimmedQueue(std::string dsn, std::string insert_sql, std::string trim_sql)
      : dsn_(std::move(dsn)), insert_(std::move(insert_sql)), trim_(std::move(trim_sql)) {}
  ~TrimmedQueue() { Stop(); }
  void Start() {
    thread_ = std::thread([this] { Run(); });
  }
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  int64_t trims() const { return trims_; }
  int64_t errors() const { return errors_; }

 private:
  void Run() {
    std::mt19937 rng(42);
    std::uniform_int_distribution<int> gap_ms(1000, 3000);
    const absl::Time end = absl::Now() + absl::Minutes(15);
    try {
      pqxx::connection c(dsn_);
      absl::Time next_trim = absl::Now() + absl::Milliseconds(gap_ms(rng));
      while (!stop_ && absl::Now() < end) {
        if (!insert_.empty()) pqxx::nontransaction(c).exec(insert_);
        if (absl::Now() >= next_trim) {
          pqxx::nontransaction(c).exec(trim_);
          ++trims_;
          next_trim = absl::Now() + absl::Milliseconds(gap_ms(rng));
        }
        absl::SleepFor(absl::Milliseconds(100));
      }
    } catch (const std::exception& e) {
      ++errors_;
      std::cerr << "queue workload: " << e.what() << "\n";
    }
  }

  std::string dsn_, insert_, trim_;
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> trims_{0};
  std::atomic<int64_t> errors_{0};
  std::thread thread_;
};

int PagesFor(const Scenario& sc, const std::string& table) {
  int n = 0;
  for (const ReceivedEvent& ev : sc.pager.events()) {
    if (IsTriggerFor(table)(ev.body)) ++n;
  }
  return n;
}

void QueueCase(Path path) {
  Scenario sc(2000, path == Path::kStream ? LogicalOptions() : LocalPostgresOptions{});
  REQUIRE(sc.pg
              ->Psql("CREATE TABLE jobs (id bigserial PRIMARY KEY, payload text NOT NULL, "
                     "created timestamptz NOT NULL DEFAULT clock_timestamp());"
                     "GRANT SELECT, INSERT, DELETE ON jobs TO app;"
                     "GRANT USAGE ON SEQUENCE jobs_id_seq TO app;"
                     "GRANT SELECT ON jobs TO pgwarden;",
                     kShopDatabase)
              .ok());
  TrimmedQueue queue(sc.pg->Dsn(kShopDatabase, kAppRole, kAppPassword),
                     "INSERT INTO jobs (payload) SELECT 'job' FROM generate_series(1, 10)",
                     "DELETE FROM jobs WHERE created < clock_timestamp() - interval '1 s'");
  queue.Start();
  absl::SleepFor(absl::Seconds(5));  // the queue runs before the agent starts
  if (path == Path::kStream) GrantReplication(sc);
  sc.StartAgent(WithTargetLines(sc.Yaml("off"), TargetLines(path)));
  if (path == Path::kStream) WaitStreaming(sc);
  absl::SleepFor(absl::Seconds(30));
  queue.Stop();
  INFO(sc.agent->Log());
  REQUIRE(queue.errors() == 0);
  CHECK(queue.trims() >= 15);
  CHECK(PagesFor(sc, "jobs") == 0);
  CHECK(MetricValue(sc.agent->Metrics(), "pgwarden_signals_suppressed_total",
                    {"reason=\"normal_churn\""})
            .has_value());

  // A backlog of 5,000 jobs, then the whole queue deleted at once (~50 times
  // its usual delete rate): a loss.
  REQUIRE(sc.pg
              ->Psql("INSERT INTO jobs (payload) SELECT 'backlog' FROM generate_series(1, 5000)",
                     kShopDatabase)
              .ok());
  absl::SleepFor(absl::Seconds(3));
  const absl::Time t0 = absl::Now();
  REQUIRE(sc.pg->Psql("DELETE FROM jobs", kShopDatabase).ok());
  auto page = sc.pager.WaitFor(IsTriggerFor("jobs"), absl::Seconds(15));
  INFO(sc.agent->Log());
  REQUIRE(page.has_value());
  std::cout << "[figure] queue (" << PathName(path) << "): " << queue.trims()
            << " trims paged nothing; emptied (5,000+ rows) paged after "
            << absl::ToDoubleSeconds(page->at - t0) << " s\n";
  CHECK(sc.pager.violations().empty());
}

TEST_CASE("Queue: a trimmed job queue pages nothing and emptied pages, from the statistics",
          "[integration][queue]") {
  QueueCase(Path::kStatsOnly);
}

TEST_CASE("Queue: a trimmed job queue pages nothing and emptied pages, via the change stream",
          "[integration][queue]") {
  QueueCase(Path::kStream);
}

// Hidden (bench/queue_false_pages.sh): pgbench TPC-B-like, 4 clients, for
// PGWARDEN_QUEUE_SECONDS (default 300) with pgbench_history trimmed every 1
// to 3 s while pgbench appends to it, watched by two agents (the change
// stream + statistics, the statistics only): prints the pages of each.
TEST_CASE("Queue bench: pgbench with pgbench_history trimmed, false pages per path",
          "[.queue_bench]") {
  const char* env = std::getenv("PGWARDEN_QUEUE_SECONDS");
  const int seconds = env != nullptr ? std::max(10, std::atoi(env)) : 300;
  Scenario sc(2000, LogicalOptions());
  const std::string bin = "/usr/lib/postgresql/15/bin/";
  ProcessOptions init;
  init.argv = {bin + "pgbench",
               "-i",
               "-q",
               "-h",
               "127.0.0.1",
               "-p",
               absl::StrCat(sc.pg->port()),
               "-U",
               "postgres",
               kShopDatabase};
  std::string out;
  auto code = RunCommand(init, absl::Seconds(120), &out);
  INFO(out);
  REQUIRE(code.ok());
  REQUIRE(*code == 0);
  GrantReplication(sc);
  sc.StartAgent(WithTargetLines(sc.Yaml("off"), TargetLines(Path::kStream)));
  WaitStreaming(sc);
  const std::string dir2 = absl::StrCat(sc.pg->dir(), "/agent2");
  REQUIRE(mkdir(dir2.c_str(), 0700) == 0);
  PdReceiver pager2;
  std::string yaml2 = sc.Yaml("off");
  yaml2.replace(yaml2.find("/state\n"), 7, "/agent2/state\n");
  yaml2.replace(yaml2.find(sc.pager.url()), sc.pager.url().size(), pager2.url());
  auto second = AgentProcess::Start(dir2, WithTargetLines(yaml2, TargetLines(Path::kStatsOnly)));
  REQUIRE(second.ok());

  ProcessOptions bench;
  bench.argv = {bin + "pgbench",
                "-n",
                "-c",
                "4",
                "-T",
                absl::StrCat(seconds),
                "-h",
                "127.0.0.1",
                "-p",
                absl::StrCat(sc.pg->port()),
                "-U",
                "postgres",
                kShopDatabase};
  bench.stdout_path = sc.pg->dir() + "/pgbench.out";
  bench.stderr_path = sc.pg->dir() + "/pgbench.log";
  auto pgbench = SpawnProcess(bench);
  REQUIRE(pgbench.ok());
  TrimmedQueue trim(sc.pg->Dsn(kShopDatabase, "postgres"), "",
                    "DELETE FROM pgbench_history WHERE mtime < now() - interval '1 s'");
  trim.Start();
  absl::StatusOr<int> exit = WaitProcess(*pgbench, absl::Seconds(seconds + 60));
  if (!exit.ok()) StopProcess(*pgbench, absl::Seconds(2));
  trim.Stop();
  absl::SleepFor(absl::Seconds(2));
  REQUIRE(exit.ok());
  int stream_pages = 0;
  int stats_pages = 0;
  for (const ReceivedEvent& ev : sc.pager.events()) {
    stream_pages += ev.body.value("event_action", "") == "trigger" ? 1 : 0;
  }
  for (const ReceivedEvent& ev : pager2.events()) {
    stats_pages += ev.body.value("event_action", "") == "trigger" ? 1 : 0;
  }
  const std::string history = *sc.pg->Psql(
      "SELECT n_tup_ins || ' inserted, ' || n_tup_del || ' deleted' FROM pg_stat_user_tables "
      "WHERE relname = 'pgbench_history'",
      kShopDatabase);
  std::cout << "[figure] queue bench " << seconds << " s: pgbench_history " << history << ", "
            << trim.trims() << " trims; false pages: stream+stats " << stream_pages
            << ", stats only " << stats_pages << "\n";
  for (const ReceivedEvent& ev : sc.pager.events()) {
    std::cout << "  stream agent page: " << ev.body["payload"].value("summary", "") << "\n";
  }
  for (const ReceivedEvent& ev : pager2.events()) {
    std::cout << "  stats agent page: " << ev.body["payload"].value("summary", "") << "\n";
  }
  CHECK(trim.errors() == 0);
}

}  // namespace
}  // namespace pgwarden::testing
