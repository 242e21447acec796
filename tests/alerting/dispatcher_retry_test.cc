// Integration tests of AlertDispatcher against real HTTP receivers on
// 127.0.0.1 (httplib servers run by the test): outages, retries, backoff,
// Retry-After, request timeouts and permanent failures.

#include <chrono>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "alerting/dispatcher.h"
#include "catch2/catch.hpp"
#include "tests/alerting/dispatcher_helpers.h"

namespace pgwarden {
namespace {

using testing::Accept;
using testing::AcceptedOrder;
using testing::Answer;
using testing::Deliveries;
using testing::FreePort;
using testing::kRoutingKey;
using testing::MakeAlert;
using testing::MakeDispatcher;
using testing::MetricValue;
using testing::PagerDuty;
using testing::Received;
using testing::TempDir;
using testing::TestReceiver;
using testing::WaitUntil;

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
  CHECK(absl::StrContains(log, "Event object is invalid"));
  CHECK(absl::StrContains(log, "bad1"));
  CHECK(!absl::StrContains(log, kRoutingKey));
}

}  // namespace
}  // namespace pgwarden
