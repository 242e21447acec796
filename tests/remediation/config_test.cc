#include "remediation/config.h"

#include "catch2/catch.hpp"
#include "tests/support/product_example.h"

namespace pgwarden {
namespace {

RemediationConfig Parse(const std::string& yaml, ConfigErrors* errors) {
  YAML::Node root = YAML::Load(yaml);
  ConfigNode node(root, "", errors);
  RemediationConfig c;
  ParseRemediationConfig(node.Child("remediation"), &c);
  return c;
}

TEST_CASE("remediation config from PRODUCT.md parses exactly as written", "[config]") {
  ConfigErrors errors("p.yaml");
  RemediationConfig c = Parse(testing::kProductExample, &errors);
  REQUIRE(errors.empty());
  CHECK(c.mode == RemediationMode::kEnforce);
  CHECK(c.actions == std::vector<ActionKind>{ActionKind::kNologin, ActionKind::kRevokeWrites,
                                             ActionKind::kTerminate});
  CHECK(c.protected_roles == std::vector<std::string>{"postgres", "pgwarden"});
  CHECK(c.min_confidence == 0.5);
  CHECK(c.min_rows == 1000);
  CHECK(c.max_roles_per_hour == 3);
  CHECK(c.AuditPath("/var/lib/pgwarden") == "/var/lib/pgwarden/audit.log");
  CHECK_FALSE(c.runaway.enabled);
  CHECK(c.runaway.idle_in_transaction == absl::Minutes(5));
  CHECK(c.inflight.enabled);
}

TEST_CASE("remediation config defaults to dry-run when absent", "[config]") {
  ConfigErrors errors("p.yaml");
  RemediationConfig c = Parse("environment: x\n", &errors);
  CHECK(errors.empty());
  CHECK(c.mode == RemediationMode::kDryRun);
  CHECK(c.HasAction(ActionKind::kNologin));
}

TEST_CASE("remediation config reads every optional key", "[config]") {
  ConfigErrors errors("p.yaml");
  RemediationConfig c = Parse(
      "remediation:\n"
      "  mode: dry-run\n"
      "  actions: [terminate]\n"
      "  min_confidence: 0.8\n"
      "  min_rows: 50\n"
      "  max_roles_per_hour: 1\n"
      "  audit_file: /tmp/a.log\n"
      "  advisory_lock_key: 42\n"
      "  runaway: {enabled: true, idle_in_transaction: 30s, statement: 1m, blocking: 10s}\n"
      "  inflight: {enabled: false, allowed_roles: [etl]}\n",
      &errors);
  REQUIRE(errors.empty());
  CHECK(c.mode == RemediationMode::kDryRun);
  CHECK(c.actions == std::vector<ActionKind>{ActionKind::kTerminate});
  CHECK(c.min_confidence == 0.8);
  CHECK(c.min_rows == 50);
  CHECK(c.max_roles_per_hour == 1);
  CHECK(c.AuditPath("/ignored") == "/tmp/a.log");
  CHECK(c.advisory_lock_key == 42);
  CHECK(c.runaway.enabled);
  CHECK(c.runaway.idle_in_transaction == absl::Seconds(30));
  CHECK(c.runaway.statement == absl::Minutes(1));
  CHECK(c.runaway.blocking == absl::Seconds(10));
  CHECK_FALSE(c.inflight.enabled);
  CHECK(c.inflight.allowed_roles == std::vector<std::string>{"etl"});
}

TEST_CASE("remediation config names unknown keys and bad values by path", "[config]") {
  ConfigErrors errors("p.yaml");
  Parse(
      "remediation:\n"
      "  mode: yolo\n"
      "  actions: [nologin, drop_database]\n"
      "  min_confidence: 2\n"
      "  runaway: {enabled: true, idle: 5m}\n"
      "  inflight: {allowed: [x]}\n"
      "  colour: blue\n",
      &errors);
  const std::vector<std::string>& e = errors.errors();
  auto has = [&](const std::string& text) {
    for (const std::string& line : e) {
      if (line.find(text) != std::string::npos) return true;
    }
    return false;
  };
  CHECK(has("p.yaml:2:"));
  CHECK(has("remediation.mode: unknown mode \"yolo\""));
  CHECK(has("remediation.actions[1]: unknown action \"drop_database\""));
  CHECK(has("remediation.min_confidence: must be between 0 and 1"));
  CHECK(has("remediation.runaway.idle: unknown key"));
  CHECK(has("remediation.inflight.allowed: unknown key"));
  CHECK(has("remediation.colour: unknown key"));
  CHECK(e.size() == 6);
}

}  // namespace
}  // namespace pgwarden
