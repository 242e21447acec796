// Integration test with a real Alertmanager (/usr/bin/prometheus-alertmanager)
// started by the test on 127.0.0.1, routing to a webhook receiver served by
// the test.

#include <fstream>
#include <string>

#include "alerting/dispatcher.h"
#include "catch2/catch.hpp"
#include "devtools/process.h"
#include "tests/alerting/receiver.h"

namespace pgwarden {
namespace {

using testing::Answer;
using testing::Received;
using testing::TempDir;
using testing::TestReceiver;
using testing::WaitUntil;

// AlertmanagerProcess runs one Alertmanager; stopped by pid at scope exit.
class AlertmanagerProcess {
 public:
  AlertmanagerProcess(const std::string& dir, const std::string& webhook_url) {
    auto port = FreeTcpPort();
    REQUIRE(port.ok());
    port_ = *port;
    const std::string config = dir + "/alertmanager.yml";
    {
      std::ofstream f(config);
      f << "route:\n"
           "  receiver: hook\n"
           "  group_by: ['dedup_key']\n"
           "  group_wait: 1s\n"
           "  group_interval: 1s\n"
           "  repeat_interval: 1h\n"
           "receivers:\n"
           "  - name: hook\n"
           "    webhook_configs:\n"
           "      - url: "
        << webhook_url
        << "\n"
           "        send_resolved: true\n";
    }
    ProcessOptions opts;
    opts.argv = {"/usr/bin/prometheus-alertmanager",
                 "--config.file=" + config,
                 "--storage.path=" + dir + "/am-data",
                 "--cluster.listen-address=",
                 "--web.listen-address=127.0.0.1:" + std::to_string(port_),
                 "--log.level=warn"};
    opts.stdout_path = dir + "/alertmanager.log";
    opts.stderr_path = dir + "/alertmanager.log";
    auto pid = SpawnProcess(opts);
    REQUIRE(pid.ok());
    pid_ = *pid;
    httplib::Client c("127.0.0.1", port_);
    c.set_connection_timeout(0, 200000);
    const bool ready = WaitUntil(
        [&] {
          auto res = c.Get("/-/ready");
          return res && res->status == 200;
        },
        absl::Seconds(30));
    REQUIRE(ready);
  }
  ~AlertmanagerProcess() {
    if (pid_ > 0) StopProcess(pid_, absl::Seconds(5));
  }
  std::string Url() const { return "http://127.0.0.1:" + std::to_string(port_); }

 private:
  int port_ = 0;
  pid_t pid_ = -1;
};

Alert MakeAlert(AlertAction action) {
  Alert a;
  a.action = action;
  a.dedup_key = "pgwarden/production/shop/public.customers";
  a.summary = "[production] shop: public.customers lost 40% of its rows";
  a.environment = "production";
  a.source = "test-host";
  a.target = "shop";
  a.object = "public.customers";
  a.kind = "row_loss";
  a.incident_id = 3;
  a.timestamp = absl::Now();
  a.details = {{"rows_before", 1000}, {"rows_now", 600}};
  return a;
}

// Notifications returns the "status" of every Alertmanager webhook call.
std::vector<std::string> Statuses(const TestReceiver& r) {
  std::vector<std::string> out;
  for (const Received& x : r.requests()) {
    if (x.json.is_object() && x.json.contains("status")) out.push_back(x.json["status"]);
  }
  return out;
}

TEST_CASE("a real Alertmanager turns our trigger and resolve into firing then resolved",
          "[alerting][integration][alertmanager]") {
  TempDir dir;
  TestReceiver webhook([](const Received&) { return Answer{200, "ok", {}, absl::ZeroDuration()}; });
  // A second "instance": records what every Alertmanager is sent.
  TestReceiver second([](const Received&) { return Answer{200, "", {}, absl::ZeroDuration()}; });
  AlertmanagerProcess am(dir.path, webhook.Url("/am-webhook"));

  AlertingConfig cfg;
  SinkConfig s;
  s.name = "am";
  s.type = "alertmanager";
  s.urls = {am.Url(), second.Url("/")};
  s.resend_interval = absl::Seconds(1);
  s.resolve_resend_for = absl::Seconds(2);
  s.retry_initial = absl::Milliseconds(100);
  s.retry_max = absl::Milliseconds(500);
  cfg.sinks = {s};
  prometheus::Registry registry;
  auto d = AlertDispatcher::Create(cfg, dir.path + "/state", registry, {}, RealClock::Get());
  REQUIRE(d.ok());
  (*d)->Start();

  (*d)->Notify(MakeAlert(AlertAction::kTrigger));
  REQUIRE(WaitUntil([&] { return !Statuses(webhook).empty(); }, absl::Seconds(30)));
  auto reqs = webhook.requests();
  const nlohmann::json& firing = reqs.front().json;
  INFO(firing.dump(2));
  CHECK(firing["status"] == "firing");
  REQUIRE(firing["alerts"].size() == 1);
  const nlohmann::json& alert = firing["alerts"][0];
  CHECK(alert["labels"]["alertname"] == "PgwardenIncident");
  CHECK(alert["labels"]["dedup_key"] == "pgwarden/production/shop/public.customers");
  CHECK(alert["labels"]["severity"] == "critical");
  CHECK(alert["labels"]["environment"] == "production");
  CHECK(alert["labels"]["target"] == "shop");
  CHECK(alert["labels"]["object"] == "public.customers");
  CHECK(alert["annotations"]["kind"] == "row_loss");
  CHECK(alert["annotations"]["summary"] ==
        "[production] shop: public.customers lost 40% of its rows");

  // While firing, the alert is re-sent to every instance with endsAt ahead.
  REQUIRE(WaitUntil([&] { return second.requests().size() >= 3; }, absl::Seconds(10)));
  for (const Received& r : second.requests()) {
    CHECK(r.path == "/api/v2/alerts");
    REQUIRE(r.json.is_array());
    REQUIRE(r.json.size() == 1);
    absl::Time ends;
    std::string err;
    REQUIRE(
        absl::ParseTime(absl::RFC3339_full, r.json[0]["endsAt"].get<std::string>(), &ends, &err));
    CHECK(ends > r.at);
  }

  (*d)->Notify(MakeAlert(AlertAction::kResolve));
  REQUIRE(WaitUntil(
      [&] {
        auto st = Statuses(webhook);
        return !st.empty() && st.back() == "resolved";
      },
      absl::Seconds(30)));
  auto statuses = Statuses(webhook);
  CHECK(statuses.front() == "firing");
  CHECK(statuses.back() == "resolved");
  CHECK(testing::MetricValue(registry, "pgwarden_alert_deliveries_total",
                             {{"sink", "am"}, {"result", "ok"}}) == 2);

  // The resolve (endsAt <= now) is re-sent for resolve_resend_for, then no more.
  const size_t before = second.requests().size();
  REQUIRE(WaitUntil([&] { return second.requests().size() >= before + 1; }, absl::Seconds(5)));
  const Received last = second.requests().back();
  absl::Time ends;
  std::string err;
  REQUIRE(
      absl::ParseTime(absl::RFC3339_full, last.json[0]["endsAt"].get<std::string>(), &ends, &err));
  CHECK(ends <= last.at);
  std::this_thread::sleep_for(std::chrono::seconds(3));
  const size_t settled = second.requests().size();
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  CHECK(second.requests().size() == settled);
  (*d)->Stop();
}

}  // namespace
}  // namespace pgwarden
