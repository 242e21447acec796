// `pgwarden demo`: a throwaway PostgreSQL, a shop with normal traffic, the
// agent, a local pager, and the cleanup script run against the wrong
// database. Everything runs on 127.0.0.1 and is removed at the end.

#include "devtools/demo.h"

#include <httplib.h>
#include <signal.h>

#include <atomic>
#include <fstream>
#include <iostream>
#include <mutex>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
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
      if (line.find(w) != absl::string_view::npos) {
        absl::StrAppend(&out, "    ", line, "\n");
        break;
      }
    }
  }
  return out;
}

}  // namespace

int RunDemo(const DemoOptions& options) {
  const absl::Duration duration = options.duration;
  const std::string& listen = options.listen;
  SetLogLevel(LogLevel::kWarning);
  signal(SIGINT, OnSignal);
  signal(SIGTERM, OnSignal);
  signal(SIGPIPE, SIG_IGN);

  Say("starting a throwaway PostgreSQL 15 cluster on 127.0.0.1 ...");
  LocalPostgresOptions pgopts;
  pgopts.keep = options.keep;
  absl::StatusOr<std::unique_ptr<LocalPostgres>> pg = LocalPostgres::Start(pgopts);
  if (!pg.ok()) {
    std::cerr << "pgwarden demo: " << pg.status().message() << "\n";
    return kDemoExitFailure;
  }
  Say(absl::StrCat("PostgreSQL up on port ", (*pg)->port(), " (data in ", (*pg)->dir(), ")"));
  Say("creating database shop with 200,000 customers ...");
  if (absl::Status s = CreateShop(**pg, 200000); !s.ok()) {
    std::cerr << "pgwarden demo: " << s.message() << "\n";
    return kDemoExitFailure;
  }

  // A local pager: a real HTTP receiver speaking PagerDuty Events v2.
  httplib::Server pager;
  std::mutex pages_mu;
  std::vector<nlohmann::json> pages;
  pager.Post("/v2/enqueue", [&](const httplib::Request& req, httplib::Response& res) {
    nlohmann::json ev = nlohmann::json::parse(req.body, nullptr, false);
    if (ev.is_discarded()) {
      res.status = 400;
      return;
    }
    {
      std::lock_guard<std::mutex> lock(pages_mu);
      pages.push_back(ev);
    }
    const std::string action = ev.value("event_action", "?");
    std::string line =
        absl::StrCat(">>> PAGE (", action, ") dedup_key=", ev.value("dedup_key", ""));
    if (ev.contains("payload")) {
      absl::StrAppend(&line, "\n              ", ev["payload"].value("severity", ""), ": ",
                      ev["payload"].value("summary", ""));
    }
    Say(line);
    res.status = 202;
    res.set_content(R"({"status":"success","message":"Event processed"})", "application/json");
  });
  const int pager_port = pager.bind_to_any_port("127.0.0.1");
  std::thread pager_thread([&] { pager.listen_after_bind(); });
  Say(absl::StrCat("local pager (PagerDuty Events v2 receiver) on http://127.0.0.1:", pager_port,
                   "/v2/enqueue"));

  const std::string config_path = (*pg)->dir() + "/pgwarden.yaml";
  {
    std::ofstream cfg(config_path);
    cfg << "environment: production\n"
        << "listen: " << listen << "\n"
        << "interval: 1s\n"
        << "state_dir: " << (*pg)->dir() << "/state\n"
        << "targets:\n"
        << "  - name: shop\n"
        << "    dsn: \"" << (*pg)->Dsn("shop", "pgwarden") << "\"\n"
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
  }
  absl::StatusOr<AgentConfig> config = LoadConfig(config_path);
  if (!config.ok()) {
    std::cerr << "pgwarden demo: " << config.status().message() << "\n";
    return kDemoExitFailure;
  }
  absl::StatusOr<std::unique_ptr<Agent>> agent = Agent::Create(*config, RealClock::Get());
  if (!agent.ok()) {
    std::cerr << "pgwarden demo: " << agent.status().message() << "\n";
    return kDemoExitFailure;
  }
  if (absl::Status s = (*agent)->Start(); !s.ok()) {
    std::cerr << "pgwarden demo: " << s.message() << "\n";
    return kDemoExitFailure;
  }
  const int port = (*agent)->http_port();
  Say(absl::StrCat("pgwarden agent running: http://127.0.0.1:", port, "/metrics  /status  ",
                   "(config ", config_path, ")"));

  ChurnWorkload churn((*pg)->Dsn(kShopDatabase, kAppRole, kAppPassword));
  churn.Start();
  Say("normal shop traffic running (inserts, updates, small deletes, a few errors) ...");
  const std::vector<std::string> wanted = {"pgwarden_up{", "pgwarden_table_rows{",
                                           "pgwarden_anomaly_score{", "pgwarden_incidents_total{",
                                           "pgwarden_remediation_actions_total{"};
  int rc = kDemoExitOk;
  pid_t job = -1;
  if (Wait(absl::Seconds(12))) {
    std::cout << MetricLines(port, {"pgwarden_up{", "pgwarden_table_rows{"});
    Say("!!! the nightly cleanup script, meant for staging, starts on PRODUCTION:");
    Say("    DELETE FROM customers ... LIMIT 1000, one transaction per batch, ~5,000 rows/s");
    absl::StatusOr<pid_t> started =
        StartCleanupJob(**pg, CleanupScriptSql("customers", 200, 1000, absl::Milliseconds(200)));
    if (!started.ok()) {
      std::cerr << "pgwarden demo: " << started.status().message() << "\n";
      rc = kDemoExitFailure;
    } else {
      job = *started;
    }
  }
  const absl::Time incident_start = absl::Now();
  bool paged = false;
  while (rc == kDemoExitOk && absl::Now() - incident_start < duration - absl::Seconds(12)) {
    if (!Wait(absl::Seconds(1))) break;
    {
      std::lock_guard<std::mutex> lock(pages_mu);
      if (!pages.empty() && !paged) {
        paged = true;
        Say(absl::StrCat("paged ",
                         absl::FormatDuration(
                             absl::Trunc(absl::Now() - incident_start, absl::Milliseconds(100))),
                         " after the script started"));
      }
    }
    if (job > 0 && WaitProcess(job, absl::ZeroDuration()).ok()) {
      Say("the cleanup script has stopped (its session was terminated or it finished)");
      job = -1;
      std::cout << MetricLines(port, wanted);
    }
  }
  if (job > 0) StopProcess(job, absl::Seconds(2));
  churn.Stop();
  auto left = (*pg)->Psql("SELECT count(*) FROM customers", kShopDatabase);
  if (left.ok()) Say(absl::StrCat("customers left: ", *left, " (the table started with 200,000+)"));
  auto login = (*pg)->Psql("SELECT rolcanlogin FROM pg_roles WHERE rolname = 'cleanup_job'");
  if (login.ok()) Say(absl::StrCat("cleanup_job can log in: ", *login == "t" ? "yes" : "no"));
  std::cout << "\nFinal status ("
            << "http://127.0.0.1:" << port << "/status):\n"
            << (*agent)->StatusJson() << "\n";
  (*agent)->Stop();
  pager.stop();
  pager_thread.join();
  Say(paged ? "demo done: the incident was paged." : "demo done: NO page arrived.");
  return paged ? rc : kDemoExitFailure;
}

}  // namespace pgwarden
