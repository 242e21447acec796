#include "alerting/config.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include "catch2/catch.hpp"
#include "tests/alerting/parse_alerting.h"
#include "tests/support/product_example.h"

namespace pgwarden {
namespace {

// HasError reports whether one error names `path` and contains `text`.
bool HasError(const std::vector<std::string>& errors, const std::string& path,
              const std::string& text) {
  for (const std::string& e : errors) {
    if (e.find(": " + path + ": ") != std::string::npos && e.find(text) != std::string::npos) {
      return true;
    }
  }
  return false;
}

std::string Dump(const std::vector<std::string>& errors) {
  std::string s;
  for (const auto& e : errors) s += e + "\n";
  return s;
}

TEST_CASE("alerting config: the PRODUCT.md example parses as written", "[alerting][config]") {
  const std::string yaml = testing::kProductExample;
  AlertingConfig cfg;
  auto errors = testing::ParseAlerting(yaml, &cfg);
  INFO(Dump(errors));
  REQUIRE(errors.empty());
  REQUIRE(cfg.sinks.size() == 1);
  const SinkConfig& s = cfg.sinks[0];
  CHECK(s.name == "oncall");
  CHECK(s.type == "pagerduty");
  CHECK(s.urls == std::vector<std::string>{"http://127.0.0.1:9999/v2/enqueue"});
  CHECK(s.routing_key == "R0UTINGKEY0000000000000000000000");
  CHECK(s.timeout == absl::Seconds(10));
  CHECK(s.retry_max == absl::Seconds(30));
  CHECK(cfg.outbox_max_entries == 10000);
}

TEST_CASE("alerting config: defaults, env/file secrets and every sink type", "[alerting][config]") {
  ::setenv("PGW_ALERT_TEST_RK", "KEYFROMENV", 1);
  char path[] = "/tmp/pgw_alert_secret_XXXXXX";
  int fd = ::mkstemp(path);
  REQUIRE(fd >= 0);
  ::close(fd);
  {
    std::ofstream f(path);
    f << "hmac-from-file\n";
  }
  const std::string yaml = std::string(R"(alerting:
  connect_timeout: 2s
  outbox_max_entries: 50
  sinks:
    - name: pd
      type: pagerduty
      routing_key_env: PGW_ALERT_TEST_RK
    - name: am
      type: alertmanager
      urls: [http://127.0.0.1:9093, "http://[::1]:9094/"]
      resend_interval: 30s
    - name: chat
      type: slack
      url: https://hooks.slack.com/services/T0/B0/XYZ
      timeout: 3s
    - name: hook
      type: webhook
      url: http://127.0.0.1:8080/hook
      hmac_secret_file: )") +
                           path + "\n      connect_timeout: 1s\n";
  AlertingConfig cfg;
  auto errors = testing::ParseAlerting(yaml, &cfg);
  ::unlink(path);
  INFO(Dump(errors));
  REQUIRE(errors.empty());
  REQUIRE(cfg.sinks.size() == 4);
  CHECK(cfg.outbox_max_entries == 50);
  CHECK(cfg.sinks[0].urls == std::vector<std::string>{kPagerDutyDefaultUrl});
  CHECK(cfg.sinks[0].routing_key == "KEYFROMENV");
  CHECK(cfg.sinks[0].connect_timeout == absl::Seconds(2));
  CHECK(cfg.sinks[1].urls.size() == 2);
  CHECK(cfg.sinks[1].resend_interval == absl::Seconds(30));
  CHECK(cfg.sinks[2].timeout == absl::Seconds(3));
  CHECK(cfg.sinks[3].hmac_secret == "hmac-from-file");
  CHECK(cfg.sinks[3].connect_timeout == absl::Seconds(1));
}

TEST_CASE("alerting config: absent section means no sinks", "[alerting][config]") {
  AlertingConfig cfg;
  auto errors = testing::ParseAlerting("environment: x\n", &cfg);
  CHECK(errors.empty());
  CHECK(cfg.sinks.empty());
}

TEST_CASE("alerting config: each error names its key path", "[alerting][config]") {
  struct Case {
    const char* yaml;
    const char* path;
    const char* text;
  };
  const Case cases[] = {
      {"alerting:\n  colour: red\n", "alerting.colour", "unknown key"},
      {"alerting:\n  sinks:\n    - {name: a, type: webhook, url: 'http://h/x', colour: red}\n",
       "alerting.sinks[0].colour", "unknown key"},
      {"alerting:\n  sinks:\n    - {name: a, type: webhook, url: 'http://h/x', timeout: soon}\n",
       "alerting.sinks[0].timeout", "expected a duration"},
      {"alerting:\n  sinks:\n    - {name: a, type: webhook, url: 'http://h/x', timeout: 0s}\n",
       "alerting.sinks[0].timeout", "greater than 0"},
      {"alerting:\n  outbox_max_entries: many\n", "alerting.outbox_max_entries",
       "expected an integer"},
      {"alerting:\n  outbox_max_entries: 0\n", "alerting.outbox_max_entries", "at least 1"},
      {"alerting:\n  sinks: {name: a}\n", "alerting.sinks", "expected a list"},
      {"alerting:\n  sinks:\n    - {name: a, type: webhook}\n", "alerting.sinks[0].url",
       "missing required key"},
      {"alerting:\n  sinks:\n    - {name: a, type: slack}\n", "alerting.sinks[0].url",
       "missing required key"},
      {"alerting:\n  sinks:\n    - {name: a, type: alertmanager}\n", "alerting.sinks[0].url",
       "set url or urls"},
      {"alerting:\n  sinks:\n    - {name: a, type: pagerduty}\n", "alerting.sinks[0].routing_key",
       "missing"},
      {"alerting:\n  sinks:\n    - {name: a, type: pagerduty, routing_key_env: PGW_NOPE_UNSET}\n",
       "alerting.sinks[0].routing_key_env", "not set"},
      {"alerting:\n  sinks:\n    - {name: a, type: pagerduty, routing_key: k, url: 'ftp://x'}\n",
       "alerting.sinks[0].url", "http:// or https://"},
      {"alerting:\n  sinks:\n    - {name: a, type: sms, url: 'http://h/x'}\n",
       "alerting.sinks[0].type", "unknown sink type 'sms'"},
      {"alerting:\n  sinks:\n    - {type: webhook, url: 'http://h/x'}\n", "alerting.sinks[0].name",
       "missing required key"},
      {"alerting:\n  sinks:\n    - {name: a, url: 'http://h/x'}\n", "alerting.sinks[0].type",
       "missing required key"},
      {"alerting:\n  sinks:\n    - {name: a, type: webhook, url: 'http://h/1'}\n"
       "    - {name: a, type: webhook, url: 'http://h/2'}\n",
       "alerting.sinks[1].name", "duplicate sink name 'a'"},
      {"alerting:\n  sinks:\n    - {name: a, type: pagerduty, routing_key: k, urls: "
       "['http://h']}\n",
       "alerting.sinks[0].urls", "only for type alertmanager"},
      {"alerting:\n  sinks:\n    - {name: a, type: alertmanager, urls: ['http://h', 'nope']}\n",
       "alerting.sinks[0].urls[1]", "http:// or https://"},
      {"alerting:\n  sinks:\n    - {name: a, type: slack, url: 'http://h', routing_key: k}\n",
       "alerting.sinks[0].routing_key", "only for type pagerduty"},
      {"alerting:\n  sinks:\n    - {name: a, type: slack, url: 'http://h', hmac_secret: k}\n",
       "alerting.sinks[0].hmac_secret", "only for type webhook"},
      {"alerting:\n  sinks:\n    - {name: a, type: webhook, url: 'http://h', resend_interval: "
       "1s}\n",
       "alerting.sinks[0].resend_interval", "only for type alertmanager"},
      {"alerting:\n  sinks:\n    - {name: a, type: webhook, url: 'http://h', retry_initial: 10s, "
       "retry_max: 1s}\n",
       "alerting.sinks[0].retry_max", "at least retry_initial"},
      {"alerting:\n  sinks:\n    - {name: a, type: pagerduty, routing_key: k, routing_key_env: "
       "E}\n",
       "alerting.sinks[0].routing_key", "set only one of"},
  };
  for (const Case& c : cases) {
    AlertingConfig cfg;
    auto errors = testing::ParseAlerting(c.yaml, &cfg);
    INFO("yaml:\n" << c.yaml << "errors:\n" << Dump(errors));
    CHECK(HasError(errors, c.path, c.text));
  }
}

TEST_CASE("alerting config: errors carry file, line and column", "[alerting][config]") {
  AlertingConfig cfg;
  auto errors = testing::ParseAlerting(
      "alerting:\n  sinks:\n    - name: a\n      type: webhook\n      bogus: 1\n"
      "      url: http://h/x\n",
      &cfg);
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].rfind("pgwarden.yaml:5:7: alerting.sinks[0].bogus: unknown key", 0) == 0);
}

TEST_CASE("ParseUrl splits http and https URLs", "[alerting][config]") {
  ParsedUrl u;
  REQUIRE(ParseUrl("http://127.0.0.1:9999/v2/enqueue", &u));
  CHECK(u.scheme == "http");
  CHECK(u.host == "127.0.0.1");
  CHECK(u.port == 9999);
  CHECK(u.path == "/v2/enqueue");
  REQUIRE(ParseUrl("https://events.pagerduty.com/v2/enqueue?x=1", &u));
  CHECK(u.port == 443);
  CHECK(u.path == "/v2/enqueue?x=1");
  CHECK(u.Redacted() == "https://events.pagerduty.com:443");
  REQUIRE(ParseUrl("http://[::1]:8080", &u));
  CHECK(u.host == "::1");
  CHECK(u.path == "/");
  CHECK(u.SchemeHostPort() == "http://[::1]:8080");
  CHECK_FALSE(ParseUrl("ftp://h/x", &u));
  CHECK_FALSE(ParseUrl("http:///x", &u));
  CHECK_FALSE(ParseUrl("http://h:99999/", &u));
  CHECK_FALSE(ParseUrl("http://user:pw@h/", &u));
}

}  // namespace
}  // namespace pgwarden
