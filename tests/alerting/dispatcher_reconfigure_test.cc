// AlertDispatcher::Reconfigure (a reloaded `alerting:` section) against real
// HTTP receivers on 127.0.0.1: sinks added, changed and removed while
// alerts are pending, the outbox kept consistent.

#include <string>
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
using testing::MakeAlert;
using testing::MakeDispatcher;
using testing::MetricValue;
using testing::PagerDuty;
using testing::Received;
using testing::TempDir;
using testing::TestReceiver;
using testing::WaitUntil;

Answer Unavailable() {
  Answer a;
  a.status = 503;
  return a;
}

std::string Url(const TestReceiver& r) {
  return "http://127.0.0.1:" + std::to_string(r.port()) + "/v2/enqueue";
}

SinkConfig Named(SinkConfig s, const std::string& name) {
  s.name = name;
  return s;
}

TEST_CASE("Reconfigure: a changed sink's replacement delivers what was queued - in order",
          "[alerting][integration]") {
  TempDir dir;
  TestReceiver down([](const Received&) { return Unavailable(); });
  TestReceiver up(Accept, 0, testing::ValidatePagerDutyEvent);
  AlertingConfig cfg;
  cfg.sinks = {PagerDuty(Url(down))};
  prometheus::Registry registry;
  auto d = MakeDispatcher(cfg, dir.path, registry);
  d->Start();
  d->Notify(MakeAlert("k1"));
  d->Notify(MakeAlert("k2"));
  REQUIRE(
      WaitUntil([&] { return Deliveries(registry, "oncall", "retry") >= 1; }, absl::Seconds(5)));
  cfg.sinks = {PagerDuty(Url(up))};
  REQUIRE(d->Reconfigure(cfg).ok());
  REQUIRE(d->WaitIdle(absl::Seconds(10)));
  CHECK(AcceptedOrder(up) == std::vector<std::string>{"k1/trigger", "k2/trigger"});
  CHECK(up.SchemaErrors().empty());
  // Delivered: nothing is pending for the next process either.
  d.reset();  // releases the outbox
  prometheus::Registry again;
  CHECK(MakeDispatcher(cfg, dir.path, again)->Pending() == 0);
}

TEST_CASE("Reconfigure: a sink added gets the next alert and a removed one leaves the outbox",
          "[alerting][integration]") {
  TempDir dir;
  TestReceiver first(Accept);
  TestReceiver second(Accept);
  TestReceiver down([](const Received&) { return Unavailable(); });
  AlertingConfig cfg;
  cfg.sinks = {Named(PagerDuty(Url(first)), "first"), Named(PagerDuty(Url(down)), "gone")};
  prometheus::Registry registry;
  auto d = MakeDispatcher(cfg, dir.path, registry);
  d->Start();
  d->Notify(MakeAlert("k1"));
  REQUIRE(WaitUntil([&] { return Deliveries(registry, "gone", "retry") >= 1; }, absl::Seconds(5)));
  // "first" unchanged, "gone" removed with k1 pending, "second" added.
  cfg.sinks = {Named(PagerDuty(Url(first)), "first"), Named(PagerDuty(Url(second)), "second")};
  REQUIRE(d->Reconfigure(cfg).ok());
  d->Notify(MakeAlert("k2"));
  REQUIRE(d->WaitIdle(absl::Seconds(10)));
  CHECK(AcceptedOrder(first) == std::vector<std::string>{"k1/trigger", "k2/trigger"});
  CHECK(AcceptedOrder(second) == std::vector<std::string>{"k2/trigger"});
  // The removed sink's series are gone, the added sink's exist.
  CHECK(MetricValue(registry, "pgwarden_alert_queue_depth", {{"sink", "gone"}}) < 0);
  CHECK(Deliveries(registry, "second", "ok") == 1);
  d.reset();  // releases the outbox
  prometheus::Registry again;
  CHECK(MakeDispatcher(cfg, dir.path, again)->Pending() == 0);
}

TEST_CASE("Reconfigure: a sink that cannot be built changes nothing", "[alerting][integration]") {
  TempDir dir;
  TestReceiver first(Accept);
  AlertingConfig cfg;
  cfg.sinks = {Named(PagerDuty(Url(first)), "first")};
  prometheus::Registry registry;
  auto d = MakeDispatcher(cfg, dir.path, registry);
  d->Start();
  AlertingConfig bad = cfg;
  SinkConfig broken = Named(PagerDuty(Url(first)), "broken");
  broken.type = "carrier_pigeon";
  bad.sinks.push_back(broken);
  CHECK_FALSE(d->Reconfigure(bad).ok());
  d->Notify(MakeAlert("k1"));
  REQUIRE(d->WaitIdle(absl::Seconds(10)));
  CHECK(AcceptedOrder(first) == std::vector<std::string>{"k1/trigger"});
}

}  // namespace
}  // namespace pgwarden
