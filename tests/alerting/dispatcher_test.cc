// Integration tests of AlertDispatcher against real HTTP receivers on
// 127.0.0.1 (httplib servers run by the test).

#include "alerting/dispatcher.h"

#include <signal.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "alerting/payloads.h"
#include "catch2/catch.hpp"
#include "devtools/process.h"
#include "tests/alerting/receiver.h"

namespace pgwarden {
namespace {

using testing::Answer;
using testing::MetricValue;
using testing::Received;
using testing::TempDir;
using testing::TestReceiver;
using testing::WaitUntil;

constexpr char kRoutingKey[] = "R0UTINGKEY0000000000000000000000";

SinkConfig PagerDuty(const std::string& url, absl::Duration retry_initial = absl::Milliseconds(100),
                     absl::Duration retry_max = absl::Milliseconds(500)) {
  SinkConfig s;
  s.name = "oncall";
  s.type = "pagerduty";
  s.urls = {url};
  s.routing_key = kRoutingKey;
  s.timeout = absl::Seconds(2);
  s.connect_timeout = absl::Seconds(1);
  s.retry_initial = retry_initial;
  s.retry_max = retry_max;
  return s;
}

Alert MakeAlert(const std::string& key, AlertAction action = AlertAction::kTrigger) {
  Alert a;
  a.action = action;
  a.dedup_key = key;
  a.summary = "[production] shop: " + key + " lost rows";
  a.environment = "production";
  a.source = "test-host";
  a.target = "shop";
  a.object = "public.customers";
  a.kind = "row_loss";
  a.incident_id = 1;
  a.timestamp = absl::Now();
  a.details = {{"rows_before", 1000}, {"rows_now", 10}};
  return a;
}

Answer Accept(const Received&) { return Answer(); }

std::unique_ptr<AlertDispatcher> MakeDispatcher(const AlertingConfig& cfg, const std::string& dir,
                                                prometheus::Registry& registry) {
  auto d = AlertDispatcher::Create(cfg, dir, registry, {{"environment", "production"}},
                                   RealClock::Get());
  INFO(d.status().ToString());
  REQUIRE(d.ok());
  return std::move(*d);
}

double Deliveries(prometheus::Registry& r, const std::string& sink, const std::string& result) {
  return MetricValue(r, "pgwarden_alert_deliveries_total", {{"sink", sink}, {"result", result}});
}

// Order returns the "dedup_key/action" sequence of accepted requests.
std::vector<std::string> AcceptedOrder(const TestReceiver& r) {
  std::vector<std::string> out;
  for (const Received& x : r.requests()) {
    if (x.status >= 200 && x.status < 300) out.push_back(x.dedup_key + "/" + x.action);
  }
  return out;
}

int FreePort() {
  auto port = FreeTcpPort();
  REQUIRE(port.ok());
  return *port;
}

TEST_CASE("PagerDuty receiver down then up: every page arrives, once, in order",
          "[alerting][integration]") {
  TempDir dir;
  const int port = FreePort();  // nothing listens yet: connections are refused
  AlertingConfig cfg;
  cfg.sinks = {PagerDuty("http://127.0.0.1:" + std::to_string(port) + "/v2/enqueue")};
  prometheus::Registry registry;
  auto d = MakeDispatcher(cfg, dir.path, registry);
  d->Start();
  d->Notify(MakeAlert("k1"));
  d->Notify(MakeAlert("k2"));
  d->Notify(MakeAlert("k1", AlertAction::kResolve));
  d->Notify(MakeAlert("k3"));
  // Outage of 3 s.
  const absl::Time outage_start = absl::Now();
  CHECK(WaitUntil([&] { return Deliveries(registry, "oncall", "retry") >= 2; }, absl::Seconds(3)));
  std::this_thread::sleep_for(std::chrono::microseconds(
      absl::ToInt64Microseconds(absl::Seconds(3) - (absl::Now() - outage_start))));
  CHECK(d->Pending() == 4);
  CHECK(MetricValue(registry, "pgwarden_alert_queue_depth", {{"sink", "oncall"}}) == 4);
  CHECK(MetricValue(registry, "pgwarden_alert_oldest_pending_seconds", {{"sink", "oncall"}}) >= 1);
  CHECK(Deliveries(registry, "oncall", "ok") == 0);

  TestReceiver pd(Accept, port, testing::ValidatePagerDutyEvent);
  REQUIRE(d->WaitIdle(absl::Seconds(20)));
  CHECK(pd.SchemaErrors().empty());
  CHECK(AcceptedOrder(pd) ==
        std::vector<std::string>{"k1/trigger", "k2/trigger", "k1/resolve", "k3/trigger"});
  CHECK(Deliveries(registry, "oncall", "ok") == 4);
  CHECK(Deliveries(registry, "oncall", "failed") == 0);
  CHECK(d->Pending() == 0);
  CHECK(WaitUntil(
      [&] {
        return MetricValue(registry, "pgwarden_alert_queue_depth", {{"sink", "oncall"}}) == 0 &&
               MetricValue(registry, "pgwarden_alert_oldest_pending_seconds",
                           {{"sink", "oncall"}}) == 0;
      },
      absl::Seconds(3)));
  // Nothing is sent twice afterwards.
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  CHECK(pd.requests().size() == 4);
}

TEST_CASE("PagerDuty receiver down for 30 s with the default backoff caps",
          "[alerting][integration][slow]") {
  TempDir dir;
  const int port = FreePort();
  AlertingConfig cfg;
  // Defaults: first retry after ~1 s, doubling, capped at 30 s.
  cfg.sinks = {PagerDuty("http://127.0.0.1:" + std::to_string(port) + "/v2/enqueue",
                         absl::Seconds(1), absl::Seconds(30))};
  prometheus::Registry registry;
  auto d = MakeDispatcher(cfg, dir.path, registry);
  d->Start();
  d->Notify(MakeAlert("outage-1"));
  d->Notify(MakeAlert("outage-2"));
  std::this_thread::sleep_for(std::chrono::seconds(30));
  const double retries = Deliveries(registry, "oncall", "retry");
  // Exponential backoff: 0.5-1, 1-2, 2-4, 4-8, 8-16 s... at most ~7 attempts in 30 s
  // (a fixed 1 s retry would make ~30).
  CHECK(retries >= 3);
  CHECK(retries <= 8);
  TestReceiver pd(Accept, port, testing::ValidatePagerDutyEvent);
  // The next attempt is at most retry_max (30 s) away.
  REQUIRE(d->WaitIdle(absl::Seconds(40)));
  CHECK(pd.SchemaErrors().empty());
  CHECK(AcceptedOrder(pd) == std::vector<std::string>{"outage-1/trigger", "outage-2/trigger"});
}

TEST_CASE("PagerDuty receiver answering 500 three times: retried, then delivered once",
          "[alerting][integration]") {
  TempDir dir;
  TestReceiver pd(
      [](const Received& r) {
        Answer a;
        if (r.attempt <= 3) {
          a.status = 500;
          a.body = "internal error";
        }
        return a;
      },
      0, testing::ValidatePagerDutyEvent);
  AlertingConfig cfg;
  cfg.sinks = {PagerDuty(pd.Url("/v2/enqueue"))};
  prometheus::Registry registry;
  auto d = MakeDispatcher(cfg, dir.path, registry);
  d->Start();
  d->Notify(MakeAlert("e1"));
  d->Notify(MakeAlert("e2"));
  REQUIRE(d->WaitIdle(absl::Seconds(20)));
  CHECK(pd.SchemaErrors().empty());
  CHECK(pd.Accepted() == std::map<std::string, int>{{"e1/trigger", 1}, {"e2/trigger", 1}});
  CHECK(pd.requests().size() == 8);
  CHECK(Deliveries(registry, "oncall", "retry") == 6);
  CHECK(Deliveries(registry, "oncall", "ok") == 2);
  // Retries carry the same dedup key and the same event.
  for (const Received& r : pd.requests()) {
    CHECK((r.dedup_key == "e1" || r.dedup_key == "e2"));
    CHECK(r.json["routing_key"] == kRoutingKey);
  }
}

TEST_CASE("PagerDuty receiver answering 429 with Retry-After: the delay is honoured",
          "[alerting][integration]") {
  TempDir dir;
  TestReceiver pd(
      [](const Received& r) {
        Answer a;
        if (r.attempt == 1) {
          a.status = 429;
          a.body = R"({"status":"throttled"})";
          a.headers.emplace("Retry-After", "2");
        }
        return a;
      },
      0, testing::ValidatePagerDutyEvent);
  AlertingConfig cfg;
  // Backoff alone would retry within 100 ms.
  cfg.sinks = {PagerDuty(pd.Url("/v2/enqueue"), absl::Milliseconds(50), absl::Milliseconds(100))};
  prometheus::Registry registry;
  auto d = MakeDispatcher(cfg, dir.path, registry);
  d->Start();
  d->Notify(MakeAlert("t1"));
  REQUIRE(d->WaitIdle(absl::Seconds(10)));
  auto reqs = pd.requests();
  REQUIRE(reqs.size() == 2);
  const absl::Duration gap = reqs[1].at - reqs[0].at;
  INFO("gap " << absl::FormatDuration(gap));
  CHECK(gap >= absl::Milliseconds(1900));
  CHECK(gap < absl::Seconds(4));
  CHECK(pd.Accepted() == std::map<std::string, int>{{"t1/trigger", 1}});
  CHECK(Deliveries(registry, "oncall", "retry") == 1);
}

TEST_CASE(
    "a receiver slower than the request timeout is abandoned and retried - "
    "another sink is not delayed",
    "[alerting][integration]") {
  TempDir dir;
  TestReceiver slow(
      [](const Received& r) {
        Answer a;
        if (r.attempt == 1) a.delay = absl::Seconds(4);
        return a;
      },
      0, testing::ValidatePagerDutyEvent);
  TestReceiver fast(Accept);
  AlertingConfig cfg;
  SinkConfig pd = PagerDuty(slow.Url("/v2/enqueue"));
  pd.timeout = absl::Milliseconds(700);
  SinkConfig hook;
  hook.name = "hook";
  hook.type = "webhook";
  hook.urls = {fast.Url("/hook")};
  cfg.sinks = {pd, hook};
  prometheus::Registry registry;
  auto d = MakeDispatcher(cfg, dir.path, registry);
  d->Start();
  const absl::Time sent = absl::Now();
  d->Notify(MakeAlert("slow1"));
  d->Notify(MakeAlert("slow2"));
  // The webhook gets both while PagerDuty's first request still hangs.
  REQUIRE(WaitUntil([&] { return fast.requests().size() == 2; }, absl::Seconds(2)));
  CHECK(fast.requests()[1].at - sent < absl::Seconds(1));
  CHECK(Deliveries(registry, "oncall", "ok") == 0);
  REQUIRE(d->WaitIdle(absl::Seconds(15)));
  auto reqs = slow.requests();
  REQUIRE(reqs.size() >= 3);
  CHECK(reqs[0].dedup_key == "slow1");
  CHECK(reqs[1].dedup_key == "slow1");
  // The client gave up after ~0.7 s instead of waiting 4 s for the answer.
  const absl::Duration gap = reqs[1].at - reqs[0].at;
  INFO("gap " << absl::FormatDuration(gap));
  CHECK(gap < absl::Seconds(2));
  CHECK(gap >= absl::Milliseconds(700));
  // The abandoned request is the only duplicate the receiver saw: same dedup
  // key, so PagerDuty folds it into one incident.
  std::map<std::string, int> per_key;
  for (const Received& r : reqs) ++per_key[r.dedup_key];
  CHECK(per_key == std::map<std::string, int>{{"slow1", 2}, {"slow2", 2}});
  CHECK(Deliveries(registry, "oncall", "ok") == 2);
  CHECK(Deliveries(registry, "oncall", "retry") == 2);
  CHECK(Deliveries(registry, "hook", "ok") == 2);
}

TEST_CASE("a 400 answer is not retried, counted as failed and logged with the answer",
          "[alerting][integration]") {
  TempDir dir;
  TestReceiver pd([](const Received&) {
    Answer a;
    a.status = 400;
    a.body = R"({"status":"invalid event","message":"Event object is invalid","errors":["x"]})";
    return a;
  });
  AlertingConfig cfg;
  cfg.sinks = {PagerDuty(pd.Url("/v2/enqueue"))};
  prometheus::Registry registry;
  testing::StderrCapture capture;
  auto d = MakeDispatcher(cfg, dir.path, registry);
  d->Start();
  d->Notify(MakeAlert("bad1"));
  REQUIRE(d->WaitIdle(absl::Seconds(5)));
  std::this_thread::sleep_for(std::chrono::milliseconds(600));  // > retry_max
  d->Stop();
  capture.Restore();
  CHECK(pd.requests().size() == 1);
  CHECK(Deliveries(registry, "oncall", "failed") == 1);
  CHECK(Deliveries(registry, "oncall", "retry") == 0);
  CHECK(d->Pending() == 0);
  const std::string log = capture.Text();
  INFO(log);
  CHECK(log.find("Event object is invalid") != std::string::npos);
  CHECK(log.find("bad1") != std::string::npos);
  CHECK(log.find(kRoutingKey) == std::string::npos);
}

TEST_CASE("restart durability: pages pending when the dispatcher dies are sent once by the next",
          "[alerting][integration]") {
  TempDir dir;
  const int port = FreePort();
  AlertingConfig cfg;
  cfg.sinks = {PagerDuty("http://127.0.0.1:" + std::to_string(port) + "/v2/enqueue")};
  {
    prometheus::Registry registry;
    auto d = MakeDispatcher(cfg, dir.path, registry);
    d->Start();
    d->Notify(MakeAlert("r1"));
    d->Notify(MakeAlert("r2"));
    d->Notify(MakeAlert("r1", AlertAction::kResolve));
    CHECK(
        WaitUntil([&] { return Deliveries(registry, "oncall", "retry") >= 1; }, absl::Seconds(3)));
  }  // destroyed with everything undelivered
  TestReceiver pd(Accept, port, testing::ValidatePagerDutyEvent);
  {
    prometheus::Registry registry;
    auto d = MakeDispatcher(cfg, dir.path, registry);
    CHECK(d->Pending() == 3);
    CHECK(pd.requests().empty());  // nothing is sent before Start
    d->Start();
    REQUIRE(d->WaitIdle(absl::Seconds(10)));
  }
  CHECK(pd.SchemaErrors().empty());
  CHECK(AcceptedOrder(pd) == std::vector<std::string>{"r1/trigger", "r2/trigger", "r1/resolve"});
  {
    prometheus::Registry registry;
    auto d = MakeDispatcher(cfg, dir.path, registry);
    CHECK(d->Pending() == 0);
    d->Start();
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
  }
  CHECK(pd.requests().size() == 3);
}

TEST_CASE("a full queue drops its oldest entries, counted, and keeps the newest",
          "[alerting][integration]") {
  TempDir dir;
  const int port = FreePort();
  AlertingConfig cfg;
  cfg.outbox_max_entries = 3;
  cfg.sinks = {PagerDuty("http://127.0.0.1:" + std::to_string(port) + "/v2/enqueue")};
  prometheus::Registry registry;
  auto d = MakeDispatcher(cfg, dir.path, registry);
  for (int i = 1; i <= 5; ++i) d->Notify(MakeAlert("q" + std::to_string(i)));
  CHECK(d->Pending() == 3);
  CHECK(Deliveries(registry, "oncall", "dropped") == 2);
  CHECK(MetricValue(registry, "pgwarden_alert_queue_depth", {{"sink", "oncall"}}) == 3);
  TestReceiver pd(Accept, port, testing::ValidatePagerDutyEvent);
  d->Start();
  REQUIRE(d->WaitIdle(absl::Seconds(10)));
  CHECK(AcceptedOrder(pd) == std::vector<std::string>{"q3/trigger", "q4/trigger", "q5/trigger"});
  d.reset();
  // The dropped entries are gone from the outbox too.
  prometheus::Registry registry2;
  auto again = MakeDispatcher(cfg, dir.path, registry2);
  CHECK(again->Pending() == 0);
}

TEST_CASE("webhook: HMAC-SHA256 signature and a stable delivery id across retries",
          "[alerting][integration]") {
  TempDir dir;
  const std::string secret = "hmac-test-secret";
  TestReceiver hook([](const Received& r) {
    Answer a;
    a.status = r.attempt == 1 ? 503 : 200;
    return a;
  });
  AlertingConfig cfg;
  SinkConfig s;
  s.name = "hook";
  s.type = "webhook";
  s.urls = {hook.Url("/pgwarden")};
  s.hmac_secret = secret;
  s.retry_initial = absl::Milliseconds(50);
  s.retry_max = absl::Milliseconds(100);
  cfg.sinks = {s};
  prometheus::Registry registry;
  auto d = MakeDispatcher(cfg, dir.path, registry);
  d->Start();
  d->Notify(MakeAlert("w1"));
  REQUIRE(d->WaitIdle(absl::Seconds(10)));
  auto reqs = hook.requests();
  REQUIRE(reqs.size() == 2);
  for (const Received& r : reqs) {
    CHECK(r.path == "/pgwarden");
    auto sig = r.headers.find("X-Pgwarden-Signature");
    REQUIRE(sig != r.headers.end());
    CHECK(sig->second == "sha256=" + HmacSha256Hex(secret, r.body));
    CHECK(sig->second != "sha256=" + HmacSha256Hex("other", r.body));
    auto id = r.headers.find("X-Pgwarden-Delivery");
    REQUIRE(id != r.headers.end());
    CHECK(id->second == r.json["delivery_id"].get<std::string>());
    CHECK(r.json["version"] == 1);
    CHECK(r.json["action"] == "trigger");
    CHECK(r.json["dedup_key"] == "w1");
  }
  CHECK(reqs[0].headers.find("X-Pgwarden-Delivery")->second ==
        reqs[1].headers.find("X-Pgwarden-Delivery")->second);
}

TEST_CASE("Stop returns promptly while a request hangs - the entry stays in the outbox",
          "[alerting][integration]") {
  TempDir dir;
  TestReceiver pd([](const Received&) {
    Answer a;
    a.delay = absl::Seconds(20);
    return a;
  });
  AlertingConfig cfg;
  SinkConfig s = PagerDuty(pd.Url("/v2/enqueue"));
  s.timeout = absl::Seconds(30);
  cfg.sinks = {s};
  prometheus::Registry registry;
  auto d = MakeDispatcher(cfg, dir.path, registry);
  d->Start();
  d->Notify(MakeAlert("hang1"));
  REQUIRE(WaitUntil([&] { return pd.requests().size() == 1; }, absl::Seconds(3)));
  const absl::Time t0 = absl::Now();
  d->Stop();
  const absl::Duration took = absl::Now() - t0;
  INFO("Stop took " << absl::FormatDuration(took));
  CHECK(took < absl::Seconds(2));
  CHECK(Deliveries(registry, "oncall", "ok") == 0);
  d.reset();
  prometheus::Registry registry2;
  auto again = MakeDispatcher(cfg, dir.path, registry2);
  CHECK(again->Pending() == 1);
}

TEST_CASE("secrets never appear in log lines or metrics", "[alerting][integration]") {
  TempDir dir;
  const int port = FreePort();  // refused
  TestReceiver slack([](const Received&) {
    Answer a;
    a.status = 404;
    a.body = "no_service";
    return a;
  });
  AlertingConfig cfg;
  cfg.sinks = {PagerDuty("http://127.0.0.1:" + std::to_string(port) + "/v2/enqueue")};
  SinkConfig s;
  s.name = "chat";
  s.type = "slack";
  s.urls = {slack.Url("/services/T000/B000/SLACKSECRETPATH")};
  cfg.sinks.push_back(s);
  prometheus::Registry registry;
  testing::StderrCapture capture;
  {
    auto d = MakeDispatcher(cfg, dir.path, registry);
    d->Start();
    d->Notify(MakeAlert("s1"));
    CHECK(WaitUntil(
        [&] {
          return Deliveries(registry, "oncall", "retry") >= 2 &&
                 Deliveries(registry, "chat", "failed") == 1;
        },
        absl::Seconds(5)));
  }
  capture.Restore();
  const std::string log = capture.Text();
  INFO(log);
  CHECK(log.find("oncall") != std::string::npos);  // the failures were logged
  CHECK(log.find("chat") != std::string::npos);
  CHECK(log.find("no_service") != std::string::npos);
  CHECK(log.find(kRoutingKey) == std::string::npos);
  CHECK(log.find("SLACKSECRETPATH") == std::string::npos);
  std::string metrics;
  for (const auto& f : registry.Collect()) {
    for (const auto& m : f.metric) {
      for (const auto& l : m.label) metrics += l.name + "=" + l.value + "\n";
    }
  }
  CHECK(metrics.find("sink=chat") != std::string::npos);
  CHECK(metrics.find(kRoutingKey) == std::string::npos);
  CHECK(metrics.find("SLACKSECRETPATH") == std::string::npos);
}

}  // namespace
}  // namespace pgwarden

namespace pgwarden {
namespace {

TEST_CASE("SIGKILL durability: a killed process's pending pages are sent once after restart",
          "[alerting][integration]") {
  TempDir dir;
  const int port = FreePort();  // the receiver is down while the helper runs
  const std::string url = "http://127.0.0.1:" + std::to_string(port) + "/v2/enqueue";
  ProcessOptions opts;
  opts.argv = {PGW_NOTIFY_HELPER, dir.path + "/state", url, "5", "kill-"};
  opts.stdout_path = dir.path + "/helper.out";
  opts.stderr_path = dir.path + "/helper.err";
  auto pid = SpawnProcess(opts);
  REQUIRE(pid.ok());
  auto helper_said = [&] {
    std::ifstream in(dir.path + "/helper.out");
    std::string line;
    return std::getline(in, line) && line == "notified";
  };
  const bool notified = WaitUntil(helper_said, absl::Seconds(10));
  ::kill(*pid, SIGKILL);
  auto code = WaitProcess(*pid, absl::Seconds(5));
  REQUIRE(notified);
  REQUIRE(code.ok());
  CHECK(*code == 128 + SIGKILL);

  TestReceiver pd(Accept, port, testing::ValidatePagerDutyEvent);
  AlertingConfig cfg;
  cfg.sinks = {PagerDuty(url)};
  prometheus::Registry registry;
  auto d = MakeDispatcher(cfg, dir.path + "/state", registry);
  CHECK(d->Pending() == 5);
  d->Start();
  REQUIRE(d->WaitIdle(absl::Seconds(10)));
  CHECK(pd.SchemaErrors().empty());
  CHECK(AcceptedOrder(pd) == std::vector<std::string>{"kill-0/trigger", "kill-1/trigger",
                                                      "kill-2/trigger", "kill-3/trigger",
                                                      "kill-4/trigger"});
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  CHECK(pd.requests().size() == 5);
}

TEST_CASE("Slack: incoming webhook gets text and blocks for trigger and resolve",
          "[alerting][integration]") {
  TempDir dir;
  TestReceiver slack([](const Received&) { return Answer{200, "ok", {}, absl::ZeroDuration()}; });
  AlertingConfig cfg;
  SinkConfig s;
  s.name = "chat";
  s.type = "slack";
  s.urls = {slack.Url("/services/T0/B0/XYZ")};
  cfg.sinks = {s};
  prometheus::Registry registry;
  auto d = MakeDispatcher(cfg, dir.path, registry);
  d->Start();
  d->Notify(MakeAlert("sl1"));
  d->Notify(MakeAlert("sl1", AlertAction::kResolve));
  REQUIRE(d->WaitIdle(absl::Seconds(5)));
  auto reqs = slack.requests();
  REQUIRE(reqs.size() == 2);
  CHECK(reqs[0].path == "/services/T0/B0/XYZ");
  CHECK(reqs[0].json["text"] == "[production] shop: sl1 lost rows");
  CHECK(reqs[0].json["blocks"].is_array());
  CHECK(reqs[0].json["blocks"][0]["type"] == "header");
  CHECK(reqs[1].json["text"] == "RESOLVED: [production] shop: sl1 lost rows");
  CHECK(Deliveries(registry, "chat", "ok") == 2);
}

}  // namespace
}  // namespace pgwarden

namespace pgwarden {
namespace {

// Hidden (run with: alerting_delivery_test "[bench]"): Notify latency (one
// fdatasync per call) and delivery throughput to a local receiver.
TEST_CASE("bench: Notify latency and delivery throughput", "[.][bench]") {
  TempDir dir;
  TestReceiver pd(Accept, 0, testing::ValidatePagerDutyEvent);
  AlertingConfig cfg;
  cfg.sinks = {PagerDuty(pd.Url("/v2/enqueue"))};
  prometheus::Registry registry;
  auto d = MakeDispatcher(cfg, dir.path, registry);
  d->Start();
  constexpr int kCount = 1000;
  std::vector<double> us;
  const absl::Time start = absl::Now();
  for (int i = 0; i < kCount; ++i) {
    const absl::Time t0 = absl::Now();
    d->Notify(MakeAlert("b" + std::to_string(i)));
    us.push_back(absl::ToDoubleMicroseconds(absl::Now() - t0));
  }
  REQUIRE(d->WaitIdle(absl::Seconds(60)));
  const absl::Duration total = absl::Now() - start;
  std::sort(us.begin(), us.end());
  std::printf("Notify: p50 %.0f us, p99 %.0f us, max %.0f us; %d alerts delivered in %s (%.0f/s)\n",
              us[kCount / 2], us[kCount * 99 / 100], us.back(), kCount,
              absl::FormatDuration(total).c_str(), kCount / absl::ToDoubleSeconds(total));
  CHECK(pd.Accepted().size() == static_cast<size_t>(kCount));
}

}  // namespace
}  // namespace pgwarden
