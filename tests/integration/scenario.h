#ifndef PGWARDEN_TESTS_INTEGRATION_SCENARIO_H_
#define PGWARDEN_TESTS_INTEGRATION_SCENARIO_H_

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "catch2/catch.hpp"
#include "devtools/demo_shop.h"
#include "devtools/local_postgres.h"
#include "tests/support/agent_process.h"
#include "tests/support/pd_receiver.h"

namespace pgwarden::testing {

// Scenario is a real PostgreSQL with the demo shop, a PagerDuty-shaped
// receiver and (once Start is called) the real agent process.
struct Scenario {
  std::unique_ptr<LocalPostgres> pg;
  PdReceiver pager;
  std::unique_ptr<AgentProcess> agent;

  explicit Scenario(int64_t customers, LocalPostgresOptions options = {}) {
    auto started = LocalPostgres::Start(std::move(options));
    REQUIRE(started.ok());
    pg = std::move(*started);
    absl::Status s = CreateShop(*pg, customers);
    INFO(s.message());
    REQUIRE(s.ok());
  }

  // Yaml is the agent config for the shop (without `listen`), plus `extra`.
  std::string Yaml(const std::string& remediation_mode = "off",
                   const std::string& extra = "") const {
    return absl::StrCat(
        "environment: production\ninterval: 1s\nstate_dir: ", pg->dir(), "/state\n",
        "targets:\n  - name: shop\n    dsn: \"", pg->Dsn("shop", "pgwarden"), "\"\n",
        "    tables:\n      include: [\"public.*\"]\n",
        "alerting:\n  sinks:\n    - name: oncall\n      type: pagerduty\n      url: ", pager.url(),
        "\n      routing_key: \"R0UTINGKEY0000000000000000000000\"\n",
        "remediation:\n  mode: ", remediation_mode, "\n", extra);
  }

  void StartAgent(const std::string& yaml) {
    auto a = AgentProcess::Start(pg->dir(), yaml);
    INFO(a.status().message());
    REQUIRE(a.ok());
    agent = std::move(*a);
    // Up, and a few samples in so the detectors have a baseline.
    REQUIRE(WaitUntil(
        [&] { return MetricValue(agent->Metrics(), "pgwarden_up", {"target=\"shop\""}) == 1.0; },
        absl::Seconds(20)));
    absl::SleepFor(absl::Seconds(3));
  }

  int64_t Count(const std::string& table) const {
    auto out = pg->Psql(absl::StrCat("SELECT count(*) FROM ", table), "shop");
    REQUIRE(out.ok());
    return std::stoll(*out);
  }
};

// LogicalOptions is a cluster whose WAL can be decoded (the change stream),
// with slot retention bounded by max_slot_wal_keep_size = `keep`, and
// synchronous_commit back at its default (on): the throwaway clusters turn
// it off for speed, which delays what a walsender may decode until the WAL
// writer flushes (wal_writer_delay, 200 ms); fsync stays off, so commits
// remain cheap.
inline LocalPostgresOptions LogicalOptions(const std::string& keep = "1GB") {
  LocalPostgresOptions o;
  o.extra_conf = {"wal_level = logical", "max_wal_senders = 10", "max_replication_slots = 10",
                  absl::StrCat("max_slot_wal_keep_size = '", keep, "'"), "synchronous_commit = on"};
  return o;
}

// IsTriggerFor matches a PagerDuty trigger whose summary names `what`.
inline std::function<bool(const nlohmann::json&)> IsTriggerFor(const std::string& what) {
  return [what](const nlohmann::json& ev) {
    return ev.value("event_action", "") == "trigger" &&
           ev["payload"].value("summary", "").find(what) != std::string::npos;
  };
}

}  // namespace pgwarden::testing

#endif  // PGWARDEN_TESTS_INTEGRATION_SCENARIO_H_
