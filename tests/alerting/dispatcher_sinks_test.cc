// Integration tests of AlertDispatcher against real HTTP receivers on
// 127.0.0.1: webhook signing, Slack messages, secrets kept out of logs and
// metrics, and a hidden throughput benchmark.

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "alerting/dispatcher.h"
#include "alerting/payloads.h"
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
  CHECK(absl::StrContains(log, "oncall"));  // the failures were logged
  CHECK(absl::StrContains(log, "chat"));
  CHECK(absl::StrContains(log, "no_service"));
  CHECK(!absl::StrContains(log, kRoutingKey));
  CHECK(!absl::StrContains(log, "SLACKSECRETPATH"));
  std::string metrics;
  for (const auto& f : registry.Collect()) {
    for (const auto& m : f.metric) {
      for (const auto& l : m.label) metrics += l.name + "=" + l.value + "\n";
    }
  }
  CHECK(absl::StrContains(metrics, "sink=chat"));
  CHECK(!absl::StrContains(metrics, kRoutingKey));
  CHECK(!absl::StrContains(metrics, "SLACKSECRETPATH"));
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
