// Integration tests of AlertDispatcher against real HTTP receivers on
// 127.0.0.1: what is pending survives a restart, a SIGKILL and Stop, and a
// full queue drops its oldest entries.

#include <signal.h>

#include <chrono>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

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

}  // namespace
}  // namespace pgwarden
