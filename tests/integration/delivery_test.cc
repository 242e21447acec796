// PRODUCT.md scenario 7, end to end: the PagerDuty receiver refuses (503,
// 429 with Retry-After), is slow, then is down, while the real pgwarden
// binary pages four incidents; the agent is SIGKILLed meanwhile. Once the
// receiver and the agent are back, every page is delivered, each once per
// dedup key.
//
// "Once per dedup key": the outbox is at-least-once (an entry accepted by
// the receiver but killed before its tombstone is fsync'ed is sent again,
// with the same dedup key, which PagerDuty folds into the same incident).
// In the first case the receiver accepts nothing before the kill, so there
// is no such excuse: each incident's trigger must be accepted exactly once.
// The second case opens that one window on purpose (the agent dies while
// the receiver is taking a page) and checks that the page sent again is the
// same event, and that the pages behind it are still sent exactly once.

#include <signal.h>

#include <iostream>
#include <map>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "tests/integration/scenario.h"

namespace pgwarden::testing {
namespace {

constexpr char kSink[] = "oncall";

// Deliveries is pgwarden_alert_deliveries_total{sink="oncall",result=...}
// (-1 when /metrics does not answer).
double Deliveries(const AgentProcess& agent, const std::string& result) {
  return MetricValue(
             agent.Metrics(), "pgwarden_alert_deliveries_total",
             {absl::StrCat("sink=\"", kSink, "\""), absl::StrCat("result=\"", result, "\"")})
      .value_or(-1);
}

double QueueDepth(const AgentProcess& agent) {
  return MetricValue(agent.Metrics(), "pgwarden_alert_queue_depth",
                     {absl::StrCat("sink=\"", kSink, "\"")})
      .value_or(-1);
}

// WaitRetries waits until the agent has counted at least `n` retries.
bool WaitRetries(const AgentProcess& agent, double n) {
  return WaitUntil([&] { return Deliveries(agent, "retry") >= n; }, absl::Seconds(15));
}

// Answered counts the requests for `key` (any key if empty) the receiver
// answered with `status`, after `since`.
int Answered(const PdReceiver& pager, int status, const std::string& key = "",
             absl::Time since = absl::InfinitePast()) {
  int n = 0;
  for (const PdRequest& r : pager.requests()) {
    if (r.status == status && r.at >= since && (key.empty() || r.dedup_key == key)) ++n;
  }
  return n;
}

std::string Key(const std::string& table) {
  return absl::StrCat("pgwarden/production/shop/public.", table);
}

// Yaml is the scenario config with short sink timeouts and backoff, so that
// a slow receiver costs seconds, not minutes, and incidents that do not
// resolve while the test runs.
std::string Yaml(const Scenario& sc, const std::string& timeout = "2s") {
  const std::string routing = "      routing_key: \"R0UTINGKEY0000000000000000000000\"\n";
  std::string yaml = sc.Yaml("off", "incidents:\n  resolve_after: 10m\n");
  const size_t at = yaml.find(routing);
  REQUIRE(at != std::string::npos);
  yaml.insert(at + routing.size(),
              absl::StrCat("      timeout: ", timeout,
                           "\n      connect_timeout: 500ms\n      retry_initial: 200ms\n"
                           "      retry_max: 1s\n      retry_after_max: 30s\n"));
  return yaml;
}

// CreateTables creates `tables` (thousands of rows each, analyzed) in the
// shop, and for each a role ops_<i> that may truncate or drop it: each page
// of these tests is a cause of its own (incidents group by culprit role).
void CreateTables(const Scenario& sc, const std::vector<std::string>& tables) {
  std::string ddl;
  for (size_t i = 0; i < tables.size(); ++i) {
    absl::StrAppend(&ddl, " CREATE ROLE ops_", i, "; GRANT shop_owner TO ops_", i, ";");
  }
  absl::StrAppend(&ddl, " SET ROLE shop_owner;");
  for (size_t i = 0; i < tables.size(); ++i) {
    absl::StrAppend(&ddl, " CREATE TABLE ", tables[i],
                    " AS SELECT g AS id FROM generate_series(1, ", 2000 + 500 * i, ") g; ANALYZE ",
                    tables[i], ";");
  }
  REQUIRE(sc.pg->Psql(ddl, "shop").ok());
}

// As runs `sql` on the shop as role ops_<i>.
bool As(const Scenario& sc, size_t i, const std::string& sql) {
  return sc.pg->Psql(absl::StrCat("SET ROLE ops_", i, "; ", sql), "shop").ok();
}

TEST_CASE(
    "Scenario 7: receiver refusing, slow, then down, agent SIGKILLed - every page arrives "
    "once per dedup key",
    "[integration][scenario][delivery]") {
  const absl::Time test_start = absl::Now();
  Scenario sc(1000);
  const std::vector<std::string> tables = {"invoices_2019", "promo_codes", "sessions_old",
                                           "wishlists"};
  CreateTables(sc, tables);
  const std::string yaml = Yaml(sc);

  // The receiver refuses from the start: 503, come back in 1 s.
  sc.pager.SetAnswer({503, "1", absl::ZeroDuration()});
  sc.StartAgent(yaml);
  AgentProcess& first = *sc.agent;
  // need fails the test with `what` and the agent's log unless `ok`.
  auto need = [&](bool ok, const char* what) {
    if (!ok) FAIL(what << "\nagent log:\n" << sc.agent->Log());
  };

  // 1. 503: the first page is tried and retried.
  REQUIRE(As(sc, 0, absl::StrCat("TRUNCATE ", tables[0])));
  need(WaitUntil([&] { return Answered(sc.pager, 503, Key(tables[0])) >= 1; }, absl::Seconds(10)),
       "the first page reached the receiver (answered 503)");
  need(WaitRetries(first, 1), "the agent counted the 503 as a retry");

  // 2. 429 with Retry-After: 2 (longer than retry_max, so the spacing of the
  // attempts shows that it is honoured).
  sc.pager.SetAnswer({429, "2", absl::ZeroDuration()});
  double retries = Deliveries(first, "retry");
  REQUIRE(As(sc, 1, absl::StrCat("TRUNCATE ", tables[1])));
  need(WaitUntil([&] { return Answered(sc.pager, 429) >= 2; }, absl::Seconds(15)),
       "two attempts answered 429");
  need(WaitRetries(first, retries + 2), "the agent counted the 429s as retries");
  {
    std::vector<absl::Time> at;
    for (const PdRequest& r : sc.pager.requests()) {
      if (r.status == 429) at.push_back(r.at);
    }
    for (size_t i = 1; i < at.size(); ++i) {
      INFO("gap between 429 answers " << i - 1 << " and " << i);
      CHECK(at[i] - at[i - 1] >= absl::Milliseconds(1900));
    }
  }

  // 3. Slow: the receiver holds each request far longer than the sink's 2 s
  // timeout; the agent gives up on it and retries.
  const absl::Time slow_since = absl::Now();
  sc.pager.SetAnswer({503, "", absl::Seconds(30)});
  REQUIRE(As(sc, 2, absl::StrCat("TRUNCATE ", tables[2])));
  need(WaitUntil([&] { return Answered(sc.pager, 0, "", slow_since) >= 1; }, absl::Seconds(10)),
       "a request is held by the slow receiver");
  // The worker sends one request at a time: the next retry counted is the
  // held request given up after the timeout.
  retries = Deliveries(first, "retry");
  need(WaitRetries(first, retries + 1),
       "the agent gave up on the held request and counted a retry");
  CHECK(Answered(sc.pager, 503, "", slow_since) == 0);  // nothing was answered

  // 4. Down: the port is closed (the held requests are cut short).
  sc.pager.Stop();
  retries = Deliveries(first, "retry");
  REQUIRE(As(sc, 3, absl::StrCat("DROP TABLE ", tables[3])));
  need(WaitRetries(first, retries + 2), "the agent retried against the closed port");

  // All four pages are in the agent's queue (persisted before queued), none
  // was accepted.
  need(WaitUntil([&] { return QueueDepth(first) == 4; }, absl::Seconds(10)),
       "the four pages are queued");
  CHECK(MetricSum(first.Metrics(), "pgwarden_incidents_total") == 4);
  REQUIRE(sc.pager.events().empty());
  CHECK(Deliveries(first, "ok") == 0);
  const size_t requests_before_kill = sc.pager.requests().size();
  const double retries_before_kill = Deliveries(first, "retry");

  // 5. SIGKILL the agent, bring the receiver back healthy, start the agent
  // again with the same config and state_dir.
  first.Kill(SIGKILL);
  const std::string first_log = first.Log();
  sc.pager.SetAnswer({});
  REQUIRE(sc.pager.Restart());
  const absl::Time restart = absl::Now();
  auto second_or = AgentProcess::Start(sc.pg->dir(), yaml);
  INFO(second_or.status().message());
  REQUIRE(second_or.ok());
  sc.agent = std::move(*second_or);
  AgentProcess& second = *sc.agent;
  INFO("agent log before the kill:\n" << first_log);

  const bool all_delivered = WaitUntil(
      [&] {
        std::set<std::string> keys;
        for (const ReceivedEvent& e : sc.pager.events()) keys.insert(e.body.value("dedup_key", ""));
        for (const std::string& t : tables) {
          if (keys.count(Key(t)) == 0) return false;
        }
        return true;
      },
      absl::Seconds(20));
  const absl::Time delivered = absl::Now();
  REQUIRE(all_delivered);
  // The agent's own account: four accepted, nothing left, then a grace
  // period in which a duplicate would show.
  CHECK(WaitUntil([&] { return Deliveries(second, "ok") == 4 && QueueDepth(second) == 0; },
                  absl::Seconds(10)));
  absl::SleepFor(absl::Seconds(3));
  INFO("agent log after the restart:\n" << second.Log());
  std::cout << "[figure] scenario 7: all 4 pages delivered "
            << absl::ToDoubleSeconds(delivered - restart) << " s after the restart; before the "
            << "SIGKILL " << retries_before_kill << " retries, " << requests_before_kill
            << " of them reached the receiver; test ran "
            << absl::ToDoubleSeconds(absl::Now() - test_start) << " s\n";

  const std::vector<ReceivedEvent> events = sc.pager.events();
  std::map<std::string, int> triggers;
  std::vector<std::string> order;
  for (const ReceivedEvent& e : events) {
    INFO(e.body.dump());
    CHECK(e.body["event_action"] == "trigger");
    const std::string key = e.body.value("dedup_key", "");
    if (++triggers[key] == 1) order.push_back(key);
  }
  for (size_t i = 0; i < tables.size(); ++i) {
    INFO("table " << tables[i]);
    CHECK(triggers[Key(tables[i])] == 1);
    auto ev = sc.pager.WaitFor(
        [&](const nlohmann::json& b) { return b.value("dedup_key", "") == Key(tables[i]); },
        absl::ZeroDuration());
    REQUIRE(ev.has_value());
    CHECK(ev->body["routing_key"] == "R0UTINGKEY0000000000000000000000");
    CHECK(ev->body["payload"]["severity"] == "critical");
    CHECK(absl::StrContains(ev->body["payload"]["summary"].get<std::string>(),
                            absl::StrCat("public.", tables[i])));
    CHECK(absl::StrContains(ev->body["payload"]["summary"].get<std::string>(),
                            i < 3 ? "truncated" : "dropped"));
  }
  // Nothing else was paged, and per sink the pages kept their order.
  CHECK(events.size() == tables.size());
  std::vector<std::string> expected_order;
  expected_order.reserve(tables.size());
  for (const std::string& t : tables) expected_order.push_back(Key(t));
  CHECK(order == expected_order);
  CHECK(sc.pager.violations().empty());
  CHECK(Deliveries(second, "failed") == 0);
  CHECK(Deliveries(second, "dropped") == 0);
}

TEST_CASE(
    "Scenario 7: agent SIGKILLed while the receiver is accepting a page - the page is re-sent "
    "unchanged, one incident per dedup key",
    "[integration][scenario][delivery]") {
  // The one window the outbox cannot close: the receiver takes the page but
  // the agent dies before it hears so. The page is then sent again, as the
  // same event (same dedup key, same payload), which PagerDuty folds into the
  // incident it already opened; every other page is sent once.
  const absl::Time test_start = absl::Now();
  Scenario sc(1000);
  const std::vector<std::string> tables = {"ledger_2020", "gift_cards"};
  CreateTables(sc, tables);
  const std::string yaml = Yaml(sc, "8s");
  sc.pager.SetAnswer({202, "", absl::Seconds(4)});  // slow, well within the 8 s timeout
  sc.StartAgent(yaml);
  auto need = [&](bool ok, const char* what) {
    if (!ok) FAIL(what << "\nagent log:\n" << sc.agent->Log());
  };

  REQUIRE(As(sc, 0, absl::StrCat("TRUNCATE ", tables[0])));
  need(WaitUntil([&] { return Answered(sc.pager, 0, Key(tables[0])) == 1; }, absl::Seconds(10)),
       "the first page is held by the slow receiver");
  REQUIRE(As(sc, 1, absl::StrCat("TRUNCATE ", tables[1])));
  need(WaitUntil([&] { return QueueDepth(*sc.agent) == 2; }, absl::Seconds(10)),
       "the second page is queued behind the first");
  // Still held: the agent has not heard the answer when it dies.
  REQUIRE(Answered(sc.pager, 0, Key(tables[0])) == 1);
  REQUIRE(sc.pager.events().empty());
  sc.agent->Kill(SIGKILL);
  const std::string first_log = sc.agent->Log();
  // The receiver accepts it all the same.
  REQUIRE(WaitUntil([&] { return sc.pager.events().size() == 1; }, absl::Seconds(10)));
  const nlohmann::json accepted_before_restart = sc.pager.events()[0].body;
  CHECK(accepted_before_restart["dedup_key"] == Key(tables[0]));

  sc.pager.SetAnswer({});
  auto second_or = AgentProcess::Start(sc.pg->dir(), yaml);
  INFO(second_or.status().message());
  REQUIRE(second_or.ok());
  sc.agent = std::move(*second_or);
  INFO("agent log before the kill:\n" << first_log);
  need(WaitUntil([&] { return Deliveries(*sc.agent, "ok") >= 1 && QueueDepth(*sc.agent) == 0; },
                 absl::Seconds(15)),
       "the restarted agent delivered what was pending");
  absl::SleepFor(absl::Seconds(2));
  INFO("agent log after the restart:\n" << sc.agent->Log());

  std::map<std::string, std::vector<nlohmann::json>> by_key;
  for (const ReceivedEvent& e : sc.pager.events()) {
    by_key[e.body.value("dedup_key", "")].push_back(e.body);
  }
  std::cout << "[figure] scenario 7, kill during acceptance: page accepted "
            << by_key[Key(tables[0])].size() << " times (same dedup key and payload), next page "
            << by_key[Key(tables[1])].size() << " time(s); test ran "
            << absl::ToDoubleSeconds(absl::Now() - test_start) << " s\n";
  // One incident per dedup key: two keys, nothing else.
  CHECK(by_key.size() == 2);
  // The page whose acceptance the agent never heard of: sent again, unchanged.
  const std::vector<nlohmann::json>& first = by_key[Key(tables[0])];
  CHECK(first.size() >= 1);
  CHECK(first.size() <= 2);
  for (const nlohmann::json& copy : first) CHECK(copy == accepted_before_restart);
  // The page that was only queued: sent once.
  REQUIRE(by_key[Key(tables[1])].size() == 1);
  const nlohmann::json& second = by_key[Key(tables[1])][0];
  CHECK(second["event_action"] == "trigger");
  CHECK(absl::StrContains(second["payload"]["summary"].get<std::string>(),
                          absl::StrCat("public.", tables[1])));
  CHECK(Deliveries(*sc.agent, "ok") == static_cast<double>(first.size()));
  CHECK(sc.pager.violations().empty());
}

TEST_CASE("Scenario 7: an incident paged before a SIGKILL is resolved by the restarted agent",
          "[integration][scenario][delivery]") {
  Scenario sc(1000);
  CreateTables(sc, {"promo_codes"});
  std::string yaml = Yaml(sc);
  const std::string ten_minutes = "resolve_after: 10m";
  yaml.replace(yaml.find(ten_minutes), ten_minutes.size(), "resolve_after: 4s");
  sc.StartAgent(yaml);
  REQUIRE(sc.pg->Psql("TRUNCATE promo_codes", "shop").ok());
  auto trigger = sc.pager.WaitFor(
      [](const nlohmann::json& ev) {
        return ev.value("event_action", "") == "trigger" && ev["dedup_key"] == Key("promo_codes");
      },
      absl::Seconds(10));
  INFO(sc.agent->Log());
  REQUIRE(trigger.has_value());
  sc.agent->Kill(SIGKILL);  // before the incident could resolve
  REQUIRE(sc.pager.WaitFor(
              [](const nlohmann::json& ev) { return ev.value("event_action", "") == "resolve"; },
              absl::Seconds(1)) == std::nullopt);
  auto second = AgentProcess::Start(sc.pg->dir(), yaml);
  INFO(second.status().message());
  REQUIRE(second.ok());
  sc.agent = std::move(*second);
  auto resolve = sc.pager.WaitFor(
      [](const nlohmann::json& ev) {
        return ev.value("event_action", "") == "resolve" && ev["dedup_key"] == Key("promo_codes");
      },
      absl::Seconds(15));
  INFO(sc.agent->Log());
  REQUIRE(resolve.has_value());
  CHECK(sc.pager.violations().empty());
  // The restarted agent shows it as it was until it resolved.
  CHECK(MetricValue(sc.agent->Metrics(), "pgwarden_incident_active", {"kind=\"truncate\""})
            .value_or(-1) == 0);
}

}  // namespace
}  // namespace pgwarden::testing
