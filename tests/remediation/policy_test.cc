// The remediation guards, table-driven, without a database.

#include "remediation/policy.h"

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "catch2/catch.hpp"

namespace pgwarden {
namespace {

RoleFacts Facts() {
  RoleFacts f;
  f.current_user = "pgwarden";
  f.session_user = "pgwarden_login";
  f.exists = true;
  f.owners = {{TableRef{"public", "customers"}, "app_owner"}};
  return f;
}

struct RoleCase {
  const char* name;
  std::string role;
  absl::StatusOr<RoleFacts> facts;
  RefusalKind want;
  const char* reason_part;
};

TEST_CASE("every role guard refuses with its own kind and reason", "[remediation][policy]") {
  RemediationConfig config;
  config.protected_roles = {"postgres", "replicator"};
  RoleFacts super = Facts();
  super.superuser = true;
  RoleFacts missing = Facts();
  missing.exists = false;
  RoleFacts owner_unreadable = Facts();
  owner_unreadable.owners.clear();
  owner_unreadable.owners_status = absl::UnavailableError("reading owner of public.orders: boom");
  const std::vector<RoleCase> cases = {
      {"ordinary role", "cleanup_job", Facts(), RefusalKind::kNone, ""},
      {"empty role", "", Facts(), RefusalKind::kNoRole, "no role to act on"},
      {"protected role", "replicator", Facts(), RefusalKind::kProtectedRole,
       "protected role (remediation.protected_roles)"},
      {"agent's configured role", "agent", Facts(), RefusalKind::kOwnRole, "the agent's own role"},
      {"current_user", "pgwarden", Facts(), RefusalKind::kOwnRole, "the agent's own role"},
      {"session_user", "pgwarden_login", Facts(), RefusalKind::kOwnRole, "the agent's own role"},
      {"facts unreadable", "cleanup_job", absl::UnavailableError("checking role: timeout"),
       RefusalKind::kFactsUnavailable, "checking role: timeout"},
      {"missing role", "cleanup_job", missing, RefusalKind::kRoleMissing, "role does not exist"},
      {"superuser", "cleanup_job", super, RefusalKind::kSuperuser, "superuser"},
      {"table owner", "app_owner", Facts(), RefusalKind::kTableOwner,
       "owner of the affected table public.customers"},
      {"owner unreadable", "cleanup_job", owner_unreadable, RefusalKind::kFactsUnavailable,
       "reading owner of public.orders"},
  };
  for (const RoleCase& c : cases) {
    INFO(c.name);
    Refusal r = CheckRoleName(config, "agent", c.role);
    if (r.ok()) r = CheckRoleFacts(c.role, c.facts);
    CHECK(r.kind == c.want);
    CHECK(absl::StrContains(r.reason, c.reason_part));
    CHECK(r.ok() == (c.want == RefusalKind::kNone));
    CHECK(r.failed() == (c.want == RefusalKind::kFactsUnavailable));
  }
}

TEST_CASE("a superuser is refused before an unreadable owner is", "[remediation][policy]") {
  RoleFacts f = Facts();
  f.superuser = true;
  f.owners_status = absl::UnavailableError("owner: boom");
  CHECK(CheckRoleFacts("x", f).kind == RefusalKind::kSuperuser);
  // An owner read before the failing one still refuses as owner.
  RoleFacts g = Facts();
  g.owners_status = absl::UnavailableError("owner: boom");
  CHECK(CheckRoleFacts("app_owner", g).kind == RefusalKind::kTableOwner);
}

TEST_CASE("mode, leader, confidence, rows and rate-limit guards", "[remediation][policy]") {
  CHECK(CheckMode(RemediationMode::kOff).kind == RefusalKind::kModeOff);
  CHECK(CheckMode(RemediationMode::kOff).reason == "remediation mode is off");
  CHECK(CheckMode(RemediationMode::kDryRun).ok());
  CHECK(CheckMode(RemediationMode::kEnforce).ok());

  CHECK(CheckLeader(true, 7).ok());
  const Refusal other = CheckLeader(false, 7);
  CHECK(other.kind == RefusalKind::kNotLeader);
  CHECK(other.reason ==
        "another agent holds the remediation advisory lock (key 7) and acts instead");
  CHECK_FALSE(other.failed());
  const Refusal unknown = CheckLeader(absl::UnavailableError("pg_try_advisory_lock: gone"), 7);
  CHECK(unknown.kind == RefusalKind::kLeaderUnknown);
  CHECK(unknown.failed());
  CHECK(unknown.reason == "pg_try_advisory_lock: gone");

  CHECK(CheckConfidence(0.5, 0.5).ok());
  const Refusal low = CheckConfidence(0.49, 0.5);
  CHECK(low.kind == RefusalKind::kLowConfidence);
  CHECK(low.reason == "attribution confidence 0.49 is below min_confidence 0.50");

  CHECK(CheckRows(1000, 1000).ok());
  const Refusal few = CheckRows(999, 1000);
  CHECK(few.kind == RefusalKind::kTooFewRows);
  CHECK(few.reason == "999 rows attributed, below min_rows 1000");

  CHECK(CheckRateLimit("c", {"a", "b"}, 3).ok());
  CHECK(CheckRateLimit("a", {"a", "b", "c"}, 3).ok());  // already acted on: not a new role
  const Refusal limit = CheckRateLimit("d", {"a", "b", "c"}, 3);
  CHECK(limit.kind == RefusalKind::kRateLimit);
  CHECK(limit.reason ==
        "rate limit: 3 roles already acted on in the last hour (max_roles_per_hour 3)");
}

TEST_CASE("every refusal kind has a distinct name", "[remediation][policy]") {
  const std::vector<RefusalKind> kinds = {
      RefusalKind::kNone,       RefusalKind::kModeOff,          RefusalKind::kLeaderUnknown,
      RefusalKind::kNotLeader,  RefusalKind::kNoRole,           RefusalKind::kProtectedRole,
      RefusalKind::kOwnRole,    RefusalKind::kFactsUnavailable, RefusalKind::kRoleMissing,
      RefusalKind::kSuperuser,  RefusalKind::kTableOwner,       RefusalKind::kLowConfidence,
      RefusalKind::kTooFewRows, RefusalKind::kRateLimit};
  std::set<std::string> names;
  for (RefusalKind k : kinds) names.insert(RefusalKindName(k));
  CHECK(names.size() == kinds.size());
  CHECK(names.count("?") == 0);
}

}  // namespace
}  // namespace pgwarden
