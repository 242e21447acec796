// High availability end to end: real PostgreSQL 15, two pgwarden agents
// watching the same database, each sending to both nodes of a two-node
// Alertmanager cluster (/usr/bin/prometheus-alertmanager, peers gossiping on
// 127.0.0.1) with a webhook receiver behind it, and the cleanup script. The
// receiver is notified once for the incident; the agent holding the
// remediation advisory lock is SIGKILLed and the other one takes over.

#include <signal.h>

#include <filesystem>
#include <iostream>
#include <pqxx/pqxx>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "devtools/process.h"
#include "tests/integration/am_cluster.h"
#include "tests/integration/remediation_audit.h"
#include "tests/integration/scenario.h"

namespace pgwarden::testing {
namespace {

constexpr char kIncident[] = "pgwarden/production/shop/public.customers";

// AgentYaml is one agent's config: the shop, both Alertmanagers, remediation
// enforced; only the state directory differs between the agents.
std::string AgentYaml(const Scenario& sc, const std::string& state_dir,
                      const std::string& am_urls) {
  return absl::StrCat(
      "environment: production\ninterval: 1s\nstate_dir: ", state_dir, "\n",
      "targets:\n  - name: shop\n    dsn: \"", sc.pg->Dsn("shop", "pgwarden"), "\"\n",
      "    tables:\n      include: [\"public.*\"]\n",
      "alerting:\n  sinks:\n    - name: am\n      type: alertmanager\n      urls: ", am_urls,
      "\n      resend_interval: 5s\nincidents:\n  resolve_after: 5m\n",
      "remediation:\n  mode: enforce\n  actions: [nologin, revoke_writes, terminate]\n");
}

// Firing counts the receiver's notifications of the incident's group.
int Firing(const WebhookReceiver& hook) {
  int n = 0;
  for (const ReceivedEvent& ev : hook.notifications()) {
    if (ev.body.is_object() && ev.body.value("status", "") == "firing" &&
        ev.body["groupLabels"].value("incident", "") == kIncident) {
      ++n;
    }
  }
  return n;
}

// FirstFiring is when the first of them arrived (InfiniteFuture: none).
absl::Time FirstFiring(const WebhookReceiver& hook) {
  for (const ReceivedEvent& ev : hook.notifications()) {
    if (ev.body.is_object() && ev.body.value("status", "") == "firing") return ev.at;
  }
  return absl::InfiniteFuture();
}

// IncidentAlerts counts node `i`'s active alerts of the incident.
int IncidentAlerts(const AlertmanagerCluster& am, size_t i) {
  int n = 0;
  nlohmann::json alerts = am.ActiveAlerts(i);
  if (!alerts.is_array()) return -1;
  for (const nlohmann::json& a : alerts) {
    if (a["labels"].value("incident", "") == kIncident) ++n;
  }
  return n;
}

double DeliveredOk(const AgentProcess& agent) {
  return MetricSum(agent.Metrics(), "pgwarden_alert_deliveries_total",
                   {R"(sink="am")", R"(result="ok")"});
}

TEST_CASE(
    "Two agents, two Alertmanagers: one notification per incident - the lock holder "
    "SIGKILLed, the other agent keeps paging and takes over the remediation",
    "[integration][ha]") {
  Scenario sc(200000);
  pqxx::connection su(sc.pg->Dsn("shop", "postgres"));
  WebhookReceiver hook;
  AlertmanagerCluster am(sc.pg->dir(), hook.Url(), "incident");

  std::vector<std::unique_ptr<AgentProcess>> agents;
  std::vector<std::string> dirs;
  for (int i = 1; i <= 2; ++i) {
    const std::string dir = absl::StrCat(sc.pg->dir(), "/agent", i);
    std::filesystem::create_directories(dir);
    auto a = AgentProcess::Start(dir, AgentYaml(sc, dir + "/state", am.UrlList()));
    INFO(a.status().message());
    REQUIRE(a.ok());
    agents.push_back(std::move(*a));
    dirs.push_back(dir);
  }
  for (auto& a : agents) {
    REQUIRE(WaitUntil(
        [&] { return MetricValue(a->Metrics(), "pgwarden_up", {"target=\"shop\""}) == 1.0; },
        absl::Seconds(20)));
  }
  absl::SleepFor(absl::Seconds(3));  // a baseline for the detectors

  // 1. The cleanup script: one agent (the lock holder) contains the role;
  // both page, the cluster notifies once.
  const absl::Time start = absl::Now();
  auto job =
      StartCleanupJob(*sc.pg, CleanupScriptSql("customers", 200, 1000, absl::Milliseconds(200)));
  REQUIRE(job.ok());
  const bool contained =
      WaitUntil([&] { return Contained(ReadRole(su, kCleanupRole)); }, absl::Seconds(25));
  absl::StatusOr<int> job_exit = WaitProcess(*job, absl::Seconds(10));
  if (!job_exit.ok()) StopProcess(*job, absl::Seconds(2));
  const bool notified = WaitUntil([&] { return Firing(hook) >= 1; }, absl::Seconds(30));
  const absl::Time first_notification = FirstFiring(hook);
  INFO(agents[0]->Log());
  INFO(agents[1]->Log());
  INFO(am.Logs());
  REQUIRE(contained);
  REQUIRE(notified);
  // Both nodes had every agent's alerts: the second node waits peer_timeout
  // for the first one's notification log entry, and any change of the
  // group's alerts would notify again after group_interval.
  absl::SleepFor(AlertmanagerCluster::kPeerTimeout + AlertmanagerCluster::kGroupWait +
                 AlertmanagerCluster::kGroupInterval + absl::Seconds(2));
  CHECK(Firing(hook) == 1);
  for (size_t i = 0; i < 2; ++i) CHECK(IncidentAlerts(am, i) == 1);  // one fingerprint

  // 2. The lock holder is the agent whose audit log says it acted.
  int leader = -1;
  std::vector<nlohmann::json> undo;
  for (int i = 0; i < 2; ++i) {
    std::vector<nlohmann::json> done =
        Records(AuditRecords(dirs[i] + "/state/audit.log"), kCleanupRole, "done");
    if (done.empty()) continue;
    CHECK(leader == -1);
    leader = i;
    undo = done;
  }
  REQUIRE(leader >= 0);
  AgentProcess& survivor = *agents[1 - leader];

  // 3. The role is given back (the undo SQL the leader audited) and runs its
  // script again, mid-incident: the leader, which already acted on it in
  // this incident, leaves it be; the other agent cannot act (no lock).
  {
    pqxx::nontransaction tx(su);
    for (const nlohmann::json& r : undo) {
      const std::string sql = r.value("undo_sql", "");
      if (!sql.empty()) tx.exec(sql);
    }
  }
  REQUIRE(ReadRole(su, kCleanupRole).can_login);
  REQUIRE(ReadRole(su, kCleanupRole).can_delete);
  const int64_t rows_before = sc.Count("customers");
  auto again =
      StartCleanupJob(*sc.pg, CleanupScriptSql("customers", 200, 1000, absl::Milliseconds(200)));
  REQUIRE(again.ok());
  const bool deleting =
      WaitUntil([&] { return sc.Count("customers") <= rows_before - 3000; }, absl::Seconds(15));
  CHECK(deleting);
  CHECK_FALSE(Contained(ReadRole(su, kCleanupRole)));

  // 4. The lock holder is SIGKILLed: its connection closes, the server frees
  // the lock, the other agent takes it and contains the role.
  const double delivered_before = DeliveredOk(survivor);
  const absl::Time killed_at = absl::Now();
  agents[leader]->Kill(SIGKILL);
  absl::Time taken_over_at;
  const bool taken_over = WaitUntil(
      [&] {
        if (!Contained(ReadRole(su, kCleanupRole))) return false;
        taken_over_at = absl::Now();
        return true;
      },
      absl::Seconds(20));
  absl::StatusOr<int> again_exit = WaitProcess(*again, absl::Seconds(10));
  if (!again_exit.ok()) StopProcess(*again, absl::Seconds(2));
  INFO(survivor.Log());
  REQUIRE(taken_over);
  std::vector<nlohmann::json> survivor_done =
      Records(AuditRecords(dirs[1 - leader] + "/state/audit.log"), kCleanupRole, "done");
  CHECK(HasAction(survivor_done, "nologin"));
  CHECK(HasAction(survivor_done, "revoke_writes"));
  CHECK(HasAction(survivor_done, "terminate"));
  REQUIRE(again_exit.ok());
  CHECK(*again_exit != 0);  // its session was terminated
  const double takeover_s = absl::ToDoubleSeconds(taken_over_at - killed_at);
  CHECK(takeover_s < 10);

  // 5. The survivor keeps paging the same alert: still one notification,
  // one alert per node.
  REQUIRE(WaitUntil([&] { return DeliveredOk(survivor) > delivered_before; }, absl::Seconds(15)));
  absl::SleepFor(AlertmanagerCluster::kGroupInterval + absl::Seconds(2));
  const int notifications = Firing(hook);
  CHECK(notifications == 1);
  for (size_t i = 0; i < 2; ++i) CHECK(IncidentAlerts(am, i) == 1);
  std::cout << "[figure] ha: first notification "
            << absl::ToDoubleSeconds(first_notification - start)
            << " s after the script started; notifications " << notifications << "; agent "
            << leader + 1 << " SIGKILLed, agent " << 2 - leader << " contained the role again "
            << takeover_s << " s after the kill\n";
}

}  // namespace
}  // namespace pgwarden::testing
