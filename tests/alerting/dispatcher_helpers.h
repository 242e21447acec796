#ifndef PGWARDEN_TESTS_ALERTING_DISPATCHER_HELPERS_H_
#define PGWARDEN_TESTS_ALERTING_DISPATCHER_HELPERS_H_

// Shared helpers of the AlertDispatcher integration tests
// (dispatcher_*_test.cc): a PagerDuty sink config, a test alert, a
// dispatcher on the real clock, and metric and receiver readers.

#include <memory>
#include <string>
#include <vector>

#include "alerting/dispatcher.h"
#include "catch2/catch.hpp"
#include "devtools/process.h"
#include "tests/alerting/receiver.h"

namespace pgwarden {
namespace testing {

inline constexpr char kRoutingKey[] = "R0UTINGKEY0000000000000000000000";

inline SinkConfig PagerDuty(const std::string& url,
                            absl::Duration retry_initial = absl::Milliseconds(100),
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

inline Alert MakeAlert(const std::string& key, AlertAction action = AlertAction::kTrigger) {
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

inline Answer Accept(const Received&) { return Answer(); }

inline std::unique_ptr<AlertDispatcher> MakeDispatcher(const AlertingConfig& cfg,
                                                       const std::string& dir,
                                                       prometheus::Registry& registry) {
  auto d = AlertDispatcher::Create(cfg, dir, registry, {{"environment", "production"}},
                                   RealClock::Get());
  INFO(d.status().ToString());
  REQUIRE(d.ok());
  return std::move(*d);
}

inline double Deliveries(prometheus::Registry& r, const std::string& sink,
                         const std::string& result) {
  return MetricValue(r, "pgwarden_alert_deliveries_total", {{"sink", sink}, {"result", result}});
}

// Order returns the "dedup_key/action" sequence of accepted requests.
inline std::vector<std::string> AcceptedOrder(const TestReceiver& r) {
  std::vector<std::string> out;
  for (const Received& x : r.requests()) {
    if (x.status >= 200 && x.status < 300) out.push_back(x.dedup_key + "/" + x.action);
  }
  return out;
}

inline int FreePort() {
  auto port = FreeTcpPort();
  REQUIRE(port.ok());
  return *port;
}

}  // namespace testing
}  // namespace pgwarden

#endif  // PGWARDEN_TESTS_ALERTING_DISPATCHER_HELPERS_H_
