#include "remediation/policy.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace pgwarden {
namespace {

Refusal Refuse(RefusalKind kind, std::string reason) { return Refusal{kind, std::move(reason)}; }

}  // namespace

const char* RefusalKindName(RefusalKind kind) {
  switch (kind) {
    case RefusalKind::kNone:
      return "none";
    case RefusalKind::kModeOff:
      return "mode_off";
    case RefusalKind::kLeaderUnknown:
      return "leader_unknown";
    case RefusalKind::kNotLeader:
      return "not_leader";
    case RefusalKind::kNoRole:
      return "no_role";
    case RefusalKind::kProtectedRole:
      return "protected_role";
    case RefusalKind::kOwnRole:
      return "own_role";
    case RefusalKind::kFactsUnavailable:
      return "facts_unavailable";
    case RefusalKind::kRoleMissing:
      return "role_missing";
    case RefusalKind::kSuperuser:
      return "superuser";
    case RefusalKind::kTableOwner:
      return "table_owner";
    case RefusalKind::kLowConfidence:
      return "low_confidence";
    case RefusalKind::kTooFewRows:
      return "too_few_rows";
    case RefusalKind::kRateLimit:
      return "rate_limit";
  }
  return "?";
}

Refusal CheckMode(RemediationMode mode) {
  if (mode == RemediationMode::kOff) {
    return Refuse(RefusalKind::kModeOff, "remediation mode is off");
  }
  return {};
}

Refusal CheckLeader(const absl::StatusOr<bool>& leader, int64_t key) {
  if (!leader.ok())
    return Refuse(RefusalKind::kLeaderUnknown, std::string(leader.status().message()));
  if (!*leader) {
    return Refuse(RefusalKind::kNotLeader,
                  absl::StrCat("another agent holds the remediation advisory lock (key ", key,
                               ") and acts instead"));
  }
  return {};
}

Refusal CheckRoleName(const RemediationConfig& config, const std::string& agent_role,
                      const std::string& role) {
  if (role.empty()) return Refuse(RefusalKind::kNoRole, "no role to act on");
  const auto& p = config.protected_roles;
  if (std::find(p.begin(), p.end(), role) != p.end()) {
    return Refuse(RefusalKind::kProtectedRole, "protected role (remediation.protected_roles)");
  }
  if (role == agent_role) return Refuse(RefusalKind::kOwnRole, "the agent's own role");
  return {};
}

Refusal CheckRoleFacts(const std::string& role, const absl::StatusOr<RoleFacts>& facts) {
  if (!facts.ok()) {
    return Refuse(RefusalKind::kFactsUnavailable, std::string(facts.status().message()));
  }
  if (role == facts->current_user || role == facts->session_user) {
    return Refuse(RefusalKind::kOwnRole, "the agent's own role");
  }
  if (!facts->exists) return Refuse(RefusalKind::kRoleMissing, "role does not exist");
  if (facts->superuser) return Refuse(RefusalKind::kSuperuser, "superuser");
  for (const auto& [table, owner] : facts->owners) {
    if (owner == role) {
      return Refuse(RefusalKind::kTableOwner,
                    absl::StrCat("owner of the affected table ", table.schema, ".", table.table));
    }
  }
  // Owners are read in table order; the first that could not be read ends
  // the list.
  if (!facts->owners_status.ok()) {
    return Refuse(RefusalKind::kFactsUnavailable, std::string(facts->owners_status.message()));
  }
  return {};
}

Refusal CheckConfidence(double confidence, double min_confidence) {
  if (confidence < min_confidence) {
    return Refuse(RefusalKind::kLowConfidence,
                  absl::StrFormat("attribution confidence %.2f is below min_confidence %.2f",
                                  confidence, min_confidence));
  }
  return {};
}

Refusal CheckRows(int64_t rows_attributed, int64_t min_rows) {
  if (rows_attributed < min_rows) {
    return Refuse(RefusalKind::kTooFewRows,
                  absl::StrCat(rows_attributed, " rows attributed, below min_rows ", min_rows));
  }
  return {};
}

Refusal CheckRateLimit(const std::string& role, const std::set<std::string>& acted_last_hour,
                       int64_t max_roles_per_hour) {
  if (acted_last_hour.count(role) > 0 ||
      static_cast<int64_t>(acted_last_hour.size()) < max_roles_per_hour) {
    return {};
  }
  return Refuse(RefusalKind::kRateLimit,
                absl::StrCat("rate limit: ", acted_last_hour.size(),
                             " roles already acted on in the last hour (max_roles_per_hour ",
                             max_roles_per_hour, ")"));
}

}  // namespace pgwarden
