#ifndef PGWARDEN_REMEDIATION_POLICY_H_
#define PGWARDEN_REMEDIATION_POLICY_H_

// The remediation guards: pure functions over facts gathered once, each
// returning a typed refusal. Nothing here talks to a database.

#include <cstdint>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "remediation/config.h"
#include "signals/table_ref.h"

namespace pgwarden {

// RefusalKind is why a guard said no (kNone: it did not).
enum class RefusalKind {
  kNone,
  kModeOff,           // remediation.mode is off
  kLeaderUnknown,     // the advisory lock could not be checked (a failure)
  kNotLeader,         // another agent holds the advisory lock
  kNoRole,            // nothing to act on
  kProtectedRole,     // remediation.protected_roles
  kOwnRole,           // the agent's own role
  kFactsUnavailable,  // the role's facts could not be read (a failure)
  kRoleMissing,       // the role does not exist
  kSuperuser,         // never act on a superuser
  kTableOwner,        // the role owns an affected table
  kLowConfidence,     // attribution confidence below min_confidence
  kTooFewRows,        // rows attributed below min_rows
  kRateLimit,         // max_roles_per_hour reached
};

// RefusalKindName returns a stable snake_case name (e.g. "protected_role").
const char* RefusalKindName(RefusalKind kind);

// Refusal is a guard's answer: kNone, or a kind with the reason shown in the
// audit file and the page.
struct Refusal {
  RefusalKind kind = RefusalKind::kNone;
  std::string reason;

  bool ok() const { return kind == RefusalKind::kNone; }
  // failed is true when the guard could not decide (recorded as failed,
  // not refused).
  bool failed() const {
    return kind == RefusalKind::kLeaderUnknown || kind == RefusalKind::kFactsUnavailable;
  }
};

// RoleFacts are what the database says about a role and the affected
// tables, read once per decision (remediation/facts.h).
struct RoleFacts {
  std::string current_user;
  std::string session_user;
  bool exists = false;
  bool superuser = false;
  // owners of the affected tables that still exist (dropped ones are absent).
  std::vector<std::pair<TableRef, std::string>> owners;
  // owners_status is not OK when an owner could not be read.
  absl::Status owners_status;
};

// CheckMode refuses everything when remediation is off.
Refusal CheckMode(RemediationMode mode);

// CheckLeader refuses unless this agent holds the advisory lock `key`.
Refusal CheckLeader(const absl::StatusOr<bool>& leader, int64_t key);

// CheckRoleName refuses an empty, protected or the agent's own role: the
// guards that need no database.
Refusal CheckRoleName(const RemediationConfig& config, const std::string& agent_role,
                      const std::string& role);

// CheckRoleFacts refuses the connected role itself, a missing role, a
// superuser and the owner of an affected table.
Refusal CheckRoleFacts(const std::string& role, const absl::StatusOr<RoleFacts>& facts);

// CheckConfidence refuses an attribution below min_confidence.
Refusal CheckConfidence(double confidence, double min_confidence);

// CheckRows refuses fewer attributed rows than min_rows.
Refusal CheckRows(int64_t rows_attributed, int64_t min_rows);

// CheckRateLimit refuses a new role once `acted_last_hour` holds
// max_roles_per_hour others.
Refusal CheckRateLimit(const std::string& role, const std::set<std::string>& acted_last_hour,
                       int64_t max_roles_per_hour);

}  // namespace pgwarden

#endif  // PGWARDEN_REMEDIATION_POLICY_H_
