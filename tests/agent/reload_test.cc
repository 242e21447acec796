#include "agent/reload.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "catch2/catch.hpp"
#include "tests/agent/parse_config.h"

namespace pgwarden {
namespace {

std::string Yaml(const std::string& extra, const std::string& tables = "[\"public.*\"]") {
  return absl::StrCat(
      "listen: 127.0.0.1:9331\ninterval: 1s\nstate_dir: /tmp/s\n", "targets:\n",
      "  - name: shop\n    dsn: \"host=127.0.0.1 dbname=shop\"\n    tables:\n      include: ",
      tables, "\n", "  - name: billing\n    dsn: \"host=127.0.0.1 dbname=billing\"\n", extra);
}

bool Has(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

TEST_CASE("Reload: an unchanged file changes nothing", "[reload]") {
  AgentConfig running = testing::ParseOk(Yaml(""));
  AgentConfig next = testing::ParseOk(Yaml(""));
  const ReloadPlan plan = PlanReload(running, &next);
  CHECK(plan.changed.empty());
  CHECK(plan.restart_only.empty());
  CHECK_FALSE(plan.detectors_changed);
  CHECK_FALSE(plan.remediation_changed);
  CHECK(CompareTarget(running.targets[0], next.targets[0]) == TargetChange::kSame);
}

TEST_CASE("Reload: restart-only settings keep their running values", "[reload]") {
  AgentConfig running = testing::ParseOk(Yaml(""));
  AgentConfig next = testing::ParseOk(
      absl::StrCat("environment: staging\n",
                   Yaml("incidents:\n  resolve_after: 5m\nweb:\n  max_connections: 10\n")));
  next.listen = "0.0.0.0:1";  // as if the file said so
  next.sections["listen"] = "0.0.0.0:1";
  const ReloadPlan plan = PlanReload(running, &next);
  CHECK(Has(plan.restart_only, "environment"));
  CHECK(Has(plan.restart_only, "incidents"));
  CHECK(Has(plan.restart_only, "web"));
  CHECK(Has(plan.restart_only, "listen"));
  CHECK(next.environment == running.environment);
  CHECK(next.listen == "127.0.0.1:9331");
  CHECK(next.resolve_after == running.resolve_after);
  CHECK(next.web.max_connections == running.web.max_connections);
  // What stays restart-only is not reported again at the next reload.
  AgentConfig again = testing::ParseOk(
      absl::StrCat("environment: staging\n",
                   Yaml("incidents:\n  resolve_after: 5m\nweb:\n  max_connections: 10\n")));
  CHECK(Has(PlanReload(next, &again).restart_only, "environment"));
}

TEST_CASE("Reload: sections that apply live are named but not kept", "[reload]") {
  AgentConfig running = testing::ParseOk(Yaml(""));
  AgentConfig next = testing::ParseOk(
      Yaml("maintenance:\n  windows:\n    - name: nightly\n      start: \"02:00\"\n"
           "      duration: 1h\nremediation:\n  mode: dry-run\ndetectors:\n  rows:\n"
           "    detector: level_drop\n    min_fraction: \"0.5\"\n"));
  const ReloadPlan plan = PlanReload(running, &next);
  CHECK(plan.restart_only.empty());
  CHECK(Has(plan.changed, "maintenance"));
  CHECK(plan.detectors_changed);
  CHECK(plan.remediation_changed);
  REQUIRE(next.maintenance.windows.size() == 1);
  CHECK(next.remediation.mode == RemediationMode::kDryRun);
}

TEST_CASE("Reload: a target whose tables changed is re-filtered and others replaced", "[reload]") {
  AgentConfig running = testing::ParseOk(Yaml(""));
  AgentConfig filtered = testing::ParseOk(Yaml("", "[\"public.*\", \"sales.*\"]"));
  CHECK(CompareTarget(running.targets[0], filtered.targets[0]) == TargetChange::kFilter);
  CHECK(CompareTarget(running.targets[1], filtered.targets[1]) == TargetChange::kSame);
  AgentConfig moved =
      testing::ParseOk(absl::StrReplaceAll(Yaml(""), {{"dbname=shop", "dbname=shop2"}}));
  CHECK(CompareTarget(running.targets[0], moved.targets[0]) == TargetChange::kReplace);
  AgentConfig slower = testing::ParseOk(absl::StrReplaceAll(
      Yaml(""), {{"dbname=billing\"\n", "dbname=billing\"\n    statement_timeout: 9s\n"}}));
  CHECK(CompareTarget(running.targets[1], slower.targets[1]) == TargetChange::kReplace);
}

}  // namespace
}  // namespace pgwarden
