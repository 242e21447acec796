#include "alerting/payloads.h"

#include <set>
#include <string>

#include "absl/strings/match.h"
#include "alerting/sinks.h"
#include "catch2/catch.hpp"

namespace pgwarden {
namespace {

Alert SampleAlert() {
  Alert a;
  a.action = AlertAction::kTrigger;
  a.dedup_key = "pgwarden/production/shop/public.customers";
  a.summary = "[production] shop: public.customers lost 40% of its rows";
  a.severity = Severity::kCritical;
  a.environment = "production";
  a.source = "db1.example";
  a.target = "shop";
  a.object = "public.customers";
  a.kind = "row_loss";
  a.incident_id = 7;
  a.timestamp = absl::FromUnixMillis(1714557600123);  // 2024-05-01T10:00:00.123Z
  a.details = {{"rows_before", 100000}, {"rows_now", 60000}, {"role", "cleanup"}};
  a.links = {{"http://127.0.0.1:9331/", "status page"}};
  return a;
}

TEST_CASE("PagerDuty trigger event has the Events v2 fields", "[alerting][payload]") {
  nlohmann::json e = BuildPagerDutyEvent(SampleAlert(), "R0UTINGKEY0000000000000000000000");
  CHECK(e["routing_key"] == "R0UTINGKEY0000000000000000000000");
  CHECK(e["event_action"] == "trigger");
  CHECK(e["dedup_key"] == "pgwarden/production/shop/public.customers");
  const nlohmann::json& p = e["payload"];
  CHECK(p["summary"] == "[production] shop: public.customers lost 40% of its rows");
  CHECK(p["source"] == "db1.example");
  CHECK(p["severity"] == "critical");
  CHECK(p["timestamp"] == "2024-05-01T10:00:00.123Z");
  CHECK(p["component"] == "public.customers");
  CHECK(p["group"] == "shop");
  CHECK(p["class"] == "row_loss");
  CHECK(p["custom_details"]["rows_before"] == 100000);
  CHECK(p["custom_details"]["role"] == "cleanup");
  CHECK(p["custom_details"]["environment"] == "production");
  CHECK(p["custom_details"]["incident_id"] == 7);
  REQUIRE(e["links"].is_array());
  CHECK(e["links"][0]["href"] == "http://127.0.0.1:9331/");
  CHECK(e["links"][0]["text"] == "status page");
}

TEST_CASE("PagerDuty severities map to the Events v2 enum", "[alerting][payload]") {
  std::set<std::string> seen;
  for (Severity s : {Severity::kCritical, Severity::kError, Severity::kWarning, Severity::kInfo}) {
    Alert a = SampleAlert();
    a.severity = s;
    seen.insert(BuildPagerDutyEvent(a, "k")["payload"]["severity"].get<std::string>());
  }
  CHECK(seen == std::set<std::string>{"critical", "error", "warning", "info"});
}

TEST_CASE("PagerDuty resolve event carries routing key, action and dedup key",
          "[alerting][payload]") {
  Alert a = SampleAlert();
  a.action = AlertAction::kResolve;
  nlohmann::json e = BuildPagerDutyEvent(a, "k");
  CHECK(e["event_action"] == "resolve");
  CHECK(e["dedup_key"] == a.dedup_key);
  CHECK(e["routing_key"] == "k");
}

TEST_CASE("PagerDuty summary is cut to 1024 bytes on a code point boundary",
          "[alerting][payload]") {
  Alert a = SampleAlert();
  a.summary.clear();
  for (int i = 0; i < 2000; ++i) a.summary += "\xC3\xA9";  // é, 2 bytes each
  nlohmann::json e = BuildPagerDutyEvent(a, "k");
  const std::string s = e["payload"]["summary"].get<std::string>();
  CHECK(s.size() <= kPagerDutySummaryMaxBytes);
  CHECK(s.size() > 1000);
  CHECK(IsValidUtf8(s));
  CHECK(s.substr(s.size() - 3) == "...");
  CHECK(a.summary.compare(0, s.size() - 3, s, 0, s.size() - 3) == 0);  // a prefix of the input
}

TEST_CASE("non-UTF-8 bytes are replaced so that every payload is valid", "[alerting][payload]") {
  Alert a = SampleAlert();
  a.summary = std::string("table caf\xE9 lost rows \xFF\xFE end");  // Latin-1 é and junk
  a.object = std::string("public.\xC3");                            // truncated sequence
  a.details = {{"note", std::string("bad \xC0\xAF overlong")}};
  const std::string pd = DumpJson(BuildPagerDutyEvent(a, "k"));
  CHECK(IsValidUtf8(pd));
  nlohmann::json parsed = nlohmann::json::parse(pd);  // would throw on invalid UTF-8
  CHECK(parsed["payload"]["summary"] ==
        "table caf\xEF\xBF\xBD lost rows \xEF\xBF\xBD\xEF\xBF\xBD end");
  CHECK(parsed["payload"]["component"] == "public.\xEF\xBF\xBD");
  CHECK(IsValidUtf8(DumpJson(BuildWebhookBody(a, "1-1"))));
  CHECK(IsValidUtf8(DumpJson(BuildSlackMessage(a))));
  CHECK(IsValidUtf8(DumpJson(BuildAlertmanagerAlert(AlertmanagerLabels(a), a, a.timestamp,
                                                    a.timestamp + absl::Minutes(4)))));
}

TEST_CASE("MakeValidUtf8 handles boundaries, overlongs and surrogates", "[alerting][payload]") {
  CHECK(MakeValidUtf8("plain") == "plain");
  CHECK(MakeValidUtf8("\xE2\x82\xAC") == "\xE2\x82\xAC");                          // €
  CHECK(MakeValidUtf8("\xF0\x9F\x98\x80") == "\xF0\x9F\x98\x80");                  // 😀
  CHECK(MakeValidUtf8("\xED\xA0\x80") == "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // surrogate
  CHECK(MakeValidUtf8("\xE0\x80\xAF") == "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // overlong
  CHECK(!absl::StrContains(MakeValidUtf8("\xF4\x90\x80\x80"), "\xF4"));            // > U+10FFFF
  // Cut: "ab€€" is 8 bytes; at most 7 bytes keeps "ab€" + "..." is 8 > 7, so "ab" + "...".
  CHECK(MakeValidUtf8("ab\xE2\x82\xAC\xE2\x82\xAC", 7) == "ab...");
  CHECK(MakeValidUtf8("ab\xE2\x82\xAC\xE2\x82\xAC", 8) == "ab\xE2\x82\xAC\xE2\x82\xAC");
  CHECK(MakeValidUtf8("abcdef", 2) == "ab");
  CHECK(IsValidUtf8("ok \xC3\xA9"));
  CHECK_FALSE(IsValidUtf8("bad \xC3"));
}

TEST_CASE("PagerDuty custom_details are kept under the 512 KB event limit", "[alerting][payload]") {
  Alert a = SampleAlert();
  nlohmann::json big = nlohmann::json::array();
  for (int i = 0; i < 20000; ++i) big.push_back(std::string(40, 'x') + std::to_string(i));
  a.details = {{"rows", big}};
  const std::string original = DumpJson(a.details);
  REQUIRE(original.size() > kPagerDutyMaxEventBytes);
  nlohmann::json e = BuildPagerDutyEvent(a, "k");
  const std::string body = DumpJson(e);
  CHECK(body.size() <= kPagerDutyMaxEventBytes);
  const nlohmann::json& d = e["payload"]["custom_details"];
  CHECK(d["truncated"] == true);
  CHECK(d["original_bytes"].get<size_t>() >= original.size());
  CHECK(d["excerpt"].get<std::string>().size() > 1000);
  CHECK(d["incident_id"] == 7);

  // Details that fit are sent whole.
  a.details = {{"rows", nlohmann::json::array({1, 2, 3})}};
  CHECK_FALSE(BuildPagerDutyEvent(a, "k")["payload"]["custom_details"].contains("truncated"));
}

TEST_CASE("Alertmanager alert has labels, annotations and times", "[alerting][payload]") {
  Alert a = SampleAlert();
  nlohmann::json labels = AlertmanagerLabels(a);
  CHECK(labels["alertname"] == "PgwardenIncident");
  CHECK(labels["environment"] == "production");
  CHECK(labels["target"] == "shop");
  CHECK(labels["object"] == "public.customers");
  CHECK_FALSE(labels.contains("kind"));  // an annotation: see below
  CHECK(labels["severity"] == "critical");
  CHECK(labels["dedup_key"] == a.dedup_key);
  nlohmann::json am =
      BuildAlertmanagerAlert(labels, a, a.timestamp, a.timestamp + absl::Minutes(4));
  CHECK(am["annotations"]["summary"] == a.summary);
  CHECK(am["annotations"]["kind"] == "row_loss");
  CHECK(absl::StrContains(am["annotations"]["description"].get<std::string>(), "rows_before"));
  CHECK(am["startsAt"] == "2024-05-01T10:00:00.123Z");
  CHECK(am["endsAt"] == "2024-05-01T10:04:00.123Z");
  CHECK(am["generatorURL"] == "http://127.0.0.1:9331/");
  // endsAt never before startsAt.
  nlohmann::json early =
      BuildAlertmanagerAlert(labels, a, a.timestamp, a.timestamp - absl::Hours(1));
  CHECK(early["endsAt"] == early["startsAt"]);
}

TEST_CASE("two agents' alerts for one incident have the same Alertmanager labels",
          "[alerting][payload]") {
  // What differs between two agents watching one database: host, the
  // agent-local incident number, the time, which detector fired first, the
  // figures and links.
  Alert a = SampleAlert();
  a.role = "cleanup_job";
  Alert b = a;
  b.source = "other-host";
  b.incident_id = a.incident_id + 41;
  b.timestamp = a.timestamp + absl::Milliseconds(700);
  b.kind = "delete_spike";
  b.details = {{"deleted_in_interval", 5000}};
  b.links = {AlertLink{"http://127.0.0.2:9331/status", "status"}};
  CHECK(AlertmanagerLabels(a) == AlertmanagerLabels(b));
  CHECK(AlertmanagerLabels(a)["incident"] == a.dedup_key);
  // No label carries anything agent-local.
  const nlohmann::json labels = AlertmanagerLabels(b);
  for (const char* agent_local : {"kind", "instance", "source", "incident_id"}) {
    CHECK_FALSE(labels.contains(agent_local));
  }
  CHECK_FALSE(absl::StrContains(labels.dump(), "other-host"));
}

TEST_CASE("Slack message has a text fallback and readable blocks", "[alerting][payload]") {
  Alert a = SampleAlert();
  nlohmann::json m = BuildSlackMessage(a);
  CHECK(m["text"] == a.summary);
  REQUIRE(m["blocks"].is_array());
  CHECK(m["blocks"][0]["type"] == "header");
  CHECK(m["blocks"][0]["text"]["text"].get<std::string>().size() <= 150);
  CHECK(absl::StrContains(DumpJson(m), "public.customers"));
  a.action = AlertAction::kResolve;
  CHECK(BuildSlackMessage(a)["text"].get<std::string>().rfind("RESOLVED: ", 0) == 0);
}

TEST_CASE("webhook body follows the documented schema", "[alerting][payload]") {
  nlohmann::json b = BuildWebhookBody(SampleAlert(), "12-345");
  CHECK(b["version"] == 1);
  CHECK(b["delivery_id"] == "12-345");
  CHECK(b["action"] == "trigger");
  for (const char* k : {"dedup_key", "summary", "severity", "environment", "source", "target",
                        "object", "kind", "timestamp"}) {
    INFO(k);
    CHECK(b[k].is_string());
  }
  CHECK(b["incident_id"] == 7);
  CHECK(b["details"]["rows_now"] == 60000);
  CHECK(b["links"][0]["href"] == "http://127.0.0.1:9331/");
}

TEST_CASE("HmacSha256Hex matches RFC 4231 test case 2", "[alerting][payload]") {
  CHECK(HmacSha256Hex("Jefe", "what do ya want for nothing?") ==
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST_CASE("alert JSON round-trips (outbox format)", "[alerting][payload]") {
  Alert a = SampleAlert();
  Alert b;
  std::string error;
  REQUIRE(AlertFromJson(AlertToJson(a), &b, &error));
  CHECK(b.dedup_key == a.dedup_key);
  CHECK(b.summary == a.summary);
  CHECK(b.timestamp == a.timestamp);
  CHECK(b.incident_id == 7);
  CHECK(b.details == a.details);
  REQUIRE(b.links.size() == 1);
  CHECK(b.links[0].text == "status page");
  nlohmann::json broken = AlertToJson(a);
  broken["severity"] = "apocalyptic";
  CHECK_FALSE(AlertFromJson(broken, &b, &error));
  CHECK(absl::StrContains(error, "apocalyptic"));
}

TEST_CASE("HTTP answers are classified ok / retry / failed", "[alerting][payload]") {
  const absl::Time now = absl::FromUnixSeconds(1445412480);  // Wed, 21 Oct 2015 07:28:00 GMT
  HttpResponse r;
  r.status = 202;
  CHECK(ClassifyHttp(r, now).result == DeliveryResult::kOk);
  r.status = 500;
  CHECK(ClassifyHttp(r, now).result == DeliveryResult::kRetry);
  r.status = 0;
  r.error = "connection refused";
  CHECK(ClassifyHttp(r, now).result == DeliveryResult::kRetry);
  r.status = 429;
  r.retry_after = "7";
  DeliveryOutcome o = ClassifyHttp(r, now);
  CHECK(o.result == DeliveryResult::kRetry);
  REQUIRE(o.retry_after.has_value());
  CHECK(*o.retry_after == absl::Seconds(7));
  r.retry_after = "Wed, 21 Oct 2015 07:28:30 GMT";
  o = ClassifyHttp(r, now);
  REQUIRE(o.retry_after.has_value());
  CHECK(*o.retry_after == absl::Seconds(30));
  r.status = 400;
  r.body = std::string(5000, 'e');
  o = ClassifyHttp(r, now);
  CHECK(o.result == DeliveryResult::kFailed);
  CHECK(o.message.rfind("HTTP 400: eee", 0) == 0);
  CHECK(o.message.size() < 600);  // the answer is truncated
  r.status = 404;
  CHECK(ClassifyHttp(r, now).result == DeliveryResult::kFailed);
  CHECK_FALSE(ParseRetryAfter("soon", now).has_value());
}

}  // namespace
}  // namespace pgwarden
