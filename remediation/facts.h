#ifndef PGWARDEN_REMEDIATION_FACTS_H_
#define PGWARDEN_REMEDIATION_FACTS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "pg/session.h"
#include "remediation/policy.h"

namespace pgwarden {

// GatherRoleFacts reads, in one pass, what the role guards decide on: the
// connected user, whether `role` exists and is a superuser, and the owners
// of `tables` (tables that no longer exist are skipped). Unavailable when
// the role cannot be read; an owner that cannot be read is kept in
// owners_status.
absl::StatusOr<RoleFacts> GatherRoleFacts(pg::Session& conn, const std::string& role,
                                          const std::vector<TableRef>& tables);

}  // namespace pgwarden

#endif  // PGWARDEN_REMEDIATION_FACTS_H_
