#include "remediation/facts.h"

#include "absl/strings/str_cat.h"
#include "remediation/grants.h"

namespace pgwarden {

absl::StatusOr<RoleFacts> GatherRoleFacts(pg::Session& conn, const std::string& role,
                                          const std::vector<TableRef>& tables) {
  absl::StatusOr<pg::Result> r = conn.Query(
      "SELECT current_user::text, session_user::text, "
      "  (SELECT rolsuper FROM pg_roles WHERE rolname = $1)",
      {role});
  if (!r.ok()) return absl::UnavailableError(absl::StrCat("checking role: ", r.status().message()));
  RoleFacts facts;
  if (!r->empty()) {
    const pg::Row& row = (*r)[0];
    facts.current_user = row.Text(0);
    facts.session_user = row.Text(1);
    facts.exists = !row.IsNull(2);
    facts.superuser = row.Bool(2);
  }
  for (const TableRef& t : tables) {
    absl::StatusOr<std::string> owner = TableOwner(conn, t);
    if (absl::IsNotFound(owner.status())) continue;  // dropped: nothing to own
    if (!owner.ok()) {
      facts.owners_status = owner.status();
      break;
    }
    facts.owners.emplace_back(t, *owner);
  }
  return facts;
}

}  // namespace pgwarden
