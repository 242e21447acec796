#include "alerting/sink_registry.h"

#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "alerting/config.h"
#include "catch2/catch.hpp"
#include "tests/alerting/parse_alerting.h"

namespace pgwarden {
namespace {

// MinimalSection is the smallest valid sink section of `type`.
std::string MinimalSection(const SinkType& type) {
  std::string yaml = std::string("    - name: s\n      type: ") + type.name + "\n";
  if (type.default_url == nullptr) yaml += "      url: http://127.0.0.1:9/x\n";
  for (const SinkSecret& secret : type.secrets) {
    if (secret.required) yaml += std::string("      ") + secret.key + ": k\n";
  }
  return yaml;
}

TEST_CASE("sink registry: names are unique and known types are found", "[alerting][sinks]") {
  std::set<std::string> names;
  for (const SinkType& t : SinkTypes()) {
    CHECK(names.insert(t.name).second);
    CHECK(FindSinkType(t.name) == &t);
    CHECK(t.make != nullptr);
  }
  CHECK(names == std::set<std::string>{"pagerduty", "alertmanager", "slack", "webhook"});
  CHECK(FindSinkType("sms") == nullptr);
  CHECK(FindSinkType("") == nullptr);
  CHECK(SinkTypeList() == "pagerduty, alertmanager, slack or webhook");
}

TEST_CASE("sink registry: every type parses from a minimal section and builds",
          "[alerting][sinks]") {
  for (const SinkType& t : SinkTypes()) {
    INFO(t.name);
    AlertingConfig cfg;
    std::vector<std::string> errors =
        testing::ParseAlerting("alerting:\n  sinks:\n" + MinimalSection(t), &cfg);
    CHECK(errors.empty());
    REQUIRE(cfg.sinks.size() == 1);
    CHECK(cfg.sinks[0].type == t.name);
    absl::StatusOr<std::unique_ptr<Sink>> sink = MakeSink(cfg.sinks[0], RealClock::Get());
    INFO(sink.status().ToString());
    CHECK(sink.ok());
  }
}

TEST_CASE("sink config: an unknown type names its key and lists the registered types",
          "[alerting][sinks]") {
  AlertingConfig cfg;
  std::vector<std::string> errors = testing::ParseAlerting(
      "alerting:\n  sinks:\n    - {name: a, type: sms, url: 'http://h/x'}\n", &cfg);
  REQUIRE(errors.size() == 1);
  CHECK(errors[0] ==
        "pgwarden.yaml:3:23: alerting.sinks[0].type: unknown sink type 'sms' (expected " +
            SinkTypeList() + ")");
}

TEST_CASE("MakeSink checks URLs, required secrets and the type", "[alerting][sinks]") {
  SinkConfig c;
  c.name = "oncall";
  c.type = "pagerduty";
  CHECK(MakeSink(c, RealClock::Get()).status().message() == "sink oncall: no url");
  c.urls = {"ftp://h/x"};
  CHECK(MakeSink(c, RealClock::Get()).status().message() == "sink oncall: not an http(s) URL");
  c.urls = {"http://127.0.0.1:9/v2/enqueue"};
  CHECK(MakeSink(c, RealClock::Get()).status().message() == "sink oncall: no routing key");
  c.routing_key = "k";
  CHECK(MakeSink(c, RealClock::Get()).ok());
  c.type = "sms";
  absl::Status s = MakeSink(c, RealClock::Get()).status();
  CHECK(s.code() == absl::StatusCode::kInvalidArgument);
  CHECK(s.message() == "sink oncall: unknown type 'sms'");
}

TEST_CASE("sink config: type-specific keys are rejected for the other types", "[alerting][sinks]") {
  AlertingConfig cfg;
  std::vector<std::string> errors = testing::ParseAlerting(
      "alerting:\n  sinks:\n    - {name: a, type: slack, url: 'http://h', urls: ['http://h'],\n"
      "       routing_key: k, hmac_secret_env: E, resolve_resend_for: 1m}\n",
      &cfg);
  std::string all;
  for (const std::string& e : errors) all += e + "\n";
  INFO(all);
  CHECK(absl::StrContains(all, "alerting.sinks[0].urls: only for type alertmanager (use url)"));
  CHECK(absl::StrContains(all, "alerting.sinks[0].routing_key: only for type pagerduty"));
  CHECK(absl::StrContains(all, "alerting.sinks[0].hmac_secret: only for type webhook"));
  CHECK(absl::StrContains(all, "alerting.sinks[0].resolve_resend_for: only for type alertmanager"));
  CHECK(errors.size() == 4);
}

}  // namespace
}  // namespace pgwarden
