// `pgwarden demo`: a throwaway PostgreSQL, a shop with normal traffic, the
// agent, a local pager, and the cleanup script run against the wrong
// database. Everything runs on 127.0.0.1 and is removed at the end.

#include "devtools/demo.h"

#include <httplib.h>
#include <signal.h>

#include <atomic>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "agent/agent.h"
#include "core/log.h"
#include "devtools/demo_shop.h"
#include "devtools/local_postgres.h"
#include "devtools/process.h"
#include "nlohmann/json.hpp"

namespace pgwarden {
namespace {

std::atomic<bool> g_interrupted{false};
void OnSignal(int) { g_interrupted = true; }

void Say(const std::string& s) {
  std::cout << absl::FormatTime("%H:%M:%S", absl::Now(), absl::LocalTimeZone()) << "  " << s
            << std::endl;
}

// Sleep in small steps so Ctrl-C ends the demo promptly.
bool Wait(absl::Duration d) {
  const absl::Time end = absl::Now() + d;
  while (absl::Now() < end) {
    if (g_interrupted) return false;
    absl::SleepFor(absl::Milliseconds(100));
  }
  return !g_interrupted;
}

std::string MetricLines(int port, const std::vector<std::string>& wanted) {
  httplib::Client cli("127.0.0.1", port);
  cli.set_connection_timeout(2, 0);
  cli.set_read_timeout(2, 0);
  auto res = cli.Get("/metrics");
  if (!res || res->status != 200) return "  (metrics unavailable)\n";
  std::string out;
  for (absl::string_view line : absl::StrSplit(res->body, '\n')) {
    if (line.empty() || line[0] == '#') continue;
    for (const std::string& w : wanted) {
      if (absl::StrContains(line, w)) {
        absl::StrAppend(&out, "    ", line, "\n");
        break;
      }
    }
  }
  return out;
}

// PrintError reports a step of the demo that failed.
void PrintError(const absl::Status& s) { std::cerr << "pgwarden demo: " << s.message() << "\n"; }

// StartShop starts the throwaway cluster and creates the shop database in it;
// null (after printing why) if either fails.
std::unique_ptr<LocalPostgres> StartShop(bool keep) {
  Say("starting a throwaway PostgreSQL 15 cluster on 127.0.0.1 ...");
  LocalPostgresOptions pgopts;
  pgopts.keep = keep;
  absl::StatusOr<std::unique_ptr<LocalPostgres>> pg = LocalPostgres::Start(pgopts);
  if (!pg.ok()) {
    PrintError(pg.status());
    return nullptr;
  }
  Say(absl::StrCat("PostgreSQL up on port ", (*pg)->port(), " (data in ", (*pg)->dir(), ")"));
  Say("creating database shop with 200,000 customers ...");
  if (absl::Status s = CreateShop(**pg, 200000); !s.ok()) {
    PrintError(s);
    return nullptr;
  }
  return *std::move(pg);
}

// LocalPager is a real HTTP receiver speaking PagerDuty Events v2 on
// 127.0.0.1; it narrates each page it receives.
class LocalPager {
 public:
  LocalPager() {
    server_.Post("/v2/enqueue", [this](const httplib::Request& req, httplib::Response& res) {
      Receive(req, &res);
    });
  }

  // Start binds a free port, serves it on a thread and returns the port.
  int Start() {
    const int port = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    return port;
  }

  // HasPages reports whether a page has arrived.
  bool HasPages() {
    absl::MutexLock lock(&mu_);
    return !pages_.empty();
  }

  // Stop stops the server and joins its thread.
  void Stop() {
    server_.stop();
    thread_.join();
  }

 private:
  // Receive records and narrates one event.
  void Receive(const httplib::Request& req, httplib::Response* res) {
    nlohmann::json ev = nlohmann::json::parse(req.body, nullptr, false);
    if (ev.is_discarded()) {
      res->status = 400;
      return;
    }
    {
      absl::MutexLock lock(&mu_);
      pages_.push_back(ev);
    }
    const std::string action = ev.value("event_action", "?");
    std::string line =
        absl::StrCat(">>> PAGE (", action, ") dedup_key=", ev.value("dedup_key", ""));
    if (ev.contains("payload")) {
      absl::StrAppend(&line, "\n              ", ev["payload"].value("severity", ""), ": ",
                      ev["payload"].value("summary", ""));
    }
    Say(line);
    res->status = 202;
    res->set_content(R"({"status":"success","message":"Event processed"})", "application/json");
  }

  httplib::Server server_;
  absl::Mutex mu_;
  std::vector<nlohmann::json> pages_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;  // serves server_; joined by Stop()
};

// WriteDemoConfig writes the agent's config into the cluster's directory
// and returns its path.
std::string WriteDemoConfig(const LocalPostgres& pg, const std::string& listen, int pager_port) {
  std::string config_path = pg.dir() + "/pgwarden.yaml";
  std::ofstream cfg(config_path);
  cfg << "environment: production\n"
      << "listen: " << listen << "\n"
      << "interval: 1s\n"
      << "state_dir: " << pg.dir() << "/state\n"
      << "targets:\n"
      << "  - name: shop\n"
      << "    dsn: \"" << pg.Dsn("shop", "pgwarden") << "\"\n"
      << "    tables:\n"
      << "      include: [\"public.*\"]\n"
      << "alerting:\n"
      << "  sinks:\n"
      << "    - name: oncall\n"
      << "      type: pagerduty\n"
      << "      url: http://127.0.0.1:" << pager_port << "/v2/enqueue\n"
      << "      routing_key: \"R0UTINGKEY0000000000000000000000\"\n"
      << "remediation:\n"
      << "  mode: enforce\n"
      << "  actions: [nologin, revoke_writes, terminate]\n"
      << "  protected_roles: [postgres, pgwarden]\n";
  return config_path;
}

// StartAgent loads the config at `config_path` and starts an agent on it;
// null (after printing why) if that fails.
std::unique_ptr<Agent> StartAgent(const std::string& config_path) {
  absl::StatusOr<AgentConfig> config = LoadConfig(config_path);
  if (!config.ok()) {
    PrintError(config.status());
    return nullptr;
  }
  absl::StatusOr<std::unique_ptr<Agent>> agent = Agent::Create(*config, RealClock::Get());
  if (!agent.ok()) {
    PrintError(agent.status());
    return nullptr;
  }
  if (absl::Status s = (*agent)->Start(); !s.ok()) {
    PrintError(s);
    return nullptr;
  }
  return *std::move(agent);
}

// StartCleanup announces and starts the cleanup script against the shop.
absl::StatusOr<pid_t> StartCleanup(const LocalPostgres& pg) {
  Say("!!! the nightly cleanup script, meant for staging, starts on PRODUCTION:");
  Say("    DELETE FROM customers ... LIMIT 1000, one transaction per batch, ~5,000 rows/s");
  return StartCleanupJob(pg, CleanupScriptSql("customers", 200, 1000, absl::Milliseconds(200)));
}

// RunIncident lets normal traffic run for 12s, starts the cleanup script and
// narrates until `duration` is up (or Ctrl-C); *paged tells whether the
// pager got a page. Returns the demo's exit code so far.
int RunIncident(const LocalPostgres& pg, LocalPager& pager, int port, absl::Duration duration,
                bool* paged) {
  const std::vector<std::string> wanted = {"pgwarden_up{", "pgwarden_table_rows{",
                                           "pgwarden_anomaly_score{", "pgwarden_incidents_total{",
                                           "pgwarden_remediation_actions_total{"};
  int rc = kDemoExitOk;
  pid_t job = -1;
  if (Wait(absl::Seconds(12))) {
    std::cout << MetricLines(port, {"pgwarden_up{", "pgwarden_table_rows{"});
    absl::StatusOr<pid_t> started = StartCleanup(pg);
    if (!started.ok()) {
      PrintError(started.status());
      rc = kDemoExitFailure;
    } else {
      job = *started;
    }
  }
  const absl::Time incident_start = absl::Now();
  while (rc == kDemoExitOk && absl::Now() - incident_start < duration - absl::Seconds(12)) {
    if (!Wait(absl::Seconds(1))) break;
    if (pager.HasPages() && !*paged) {
      *paged = true;
      Say(absl::StrCat(
          "paged ",
          absl::FormatDuration(absl::Trunc(absl::Now() - incident_start, absl::Milliseconds(100))),
          " after the script started"));
    }
    if (job > 0 && WaitProcess(job, absl::ZeroDuration()).ok()) {
      Say("the cleanup script has stopped (its session was terminated or it finished)");
      job = -1;
      std::cout << MetricLines(port, wanted);
    }
  }
  if (job > 0) StopProcess(job, absl::Seconds(2));
  return rc;
}

// Report prints what is left of the shop and the agent's final status.
void Report(const LocalPostgres& pg, const Agent& agent, int port) {
  auto left = pg.Psql("SELECT count(*) FROM customers", kShopDatabase);
  if (left.ok()) Say(absl::StrCat("customers left: ", *left, " (the table started with 200,000+)"));
  auto login = pg.Psql("SELECT rolcanlogin FROM pg_roles WHERE rolname = 'cleanup_job'");
  if (login.ok()) Say(absl::StrCat("cleanup_job can log in: ", *login == "t" ? "yes" : "no"));
  std::cout << "\nFinal status ("
            << "http://127.0.0.1:" << port << "/status):\n"
            << agent.StatusJson() << "\n";
}

}  // namespace

int RunDemo(const DemoOptions& options) {
  SetLogLevel(LogLevel::kWarning);
  signal(SIGINT, OnSignal);
  signal(SIGTERM, OnSignal);
  signal(SIGPIPE, SIG_IGN);

  std::unique_ptr<LocalPostgres> pg = StartShop(options.keep);
  if (pg == nullptr) return kDemoExitFailure;

  LocalPager pager;
  const int pager_port = pager.Start();
  Say(absl::StrCat("local pager (PagerDuty Events v2 receiver) on http://127.0.0.1:", pager_port,
                   "/v2/enqueue"));

  const std::string config_path = WriteDemoConfig(*pg, options.listen, pager_port);
  std::unique_ptr<Agent> agent = StartAgent(config_path);
  if (agent == nullptr) return kDemoExitFailure;
  const int port = agent->http_port();
  Say(absl::StrCat("pgwarden agent running: http://127.0.0.1:", port, "/metrics  /status  ",
                   "(config ", config_path, ")"));

  ChurnWorkload churn(pg->Dsn(kShopDatabase, kAppRole, kAppPassword));
  churn.Start();
  Say("normal shop traffic running (inserts, updates, small deletes, a few errors) ...");
  bool paged = false;
  const int rc = RunIncident(*pg, pager, port, options.duration, &paged);
  churn.Stop();
  Report(*pg, *agent, port);
  agent->Stop();
  pager.Stop();
  Say(paged ? "demo done: the incident was paged." : "demo done: NO page arrived.");
  return paged ? rc : kDemoExitFailure;
}

}  // namespace pgwarden
