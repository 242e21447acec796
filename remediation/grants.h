#ifndef PGWARDEN_REMEDIATION_GRANTS_H_
#define PGWARDEN_REMEDIATION_GRANTS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "pg/session.h"
#include "signals/table_ref.h"

namespace pgwarden {

// TableGrant is one privilege a role holds on a table (aclexplode).
struct TableGrant {
  std::string privilege;  // INSERT, UPDATE, DELETE, TRUNCATE, ...
  std::string grantor;
  bool grantable = false;
  bool operator<(const TableGrant& o) const;
  bool operator==(const TableGrant& o) const;
};

// IsWritePrivilege is true for INSERT, UPDATE, DELETE and TRUNCATE.
bool IsWritePrivilege(const std::string& privilege);

// ReadTableGrants returns the privileges granted directly to `role` on
// schema.table, sorted.
absl::StatusOr<std::vector<TableGrant>> ReadTableGrants(pg::Session& conn, const std::string& role,
                                                        const TableRef& table);

// TableOwner returns the owner of schema.table (NotFound if it is gone).
absl::StatusOr<std::string> TableOwner(pg::Session& conn, const TableRef& table);

// GrantSql rebuilds GRANT statements for `grants` (grantable ones WITH GRANT
// OPTION), in a stable order, "" for none.
std::string GrantSql(const pg::Session& quoter, const std::vector<TableGrant>& grants,
                     const TableRef& table, const std::string& role);

// GrantsJson lists grants for audit details.
nlohmann::json GrantsJson(const std::vector<TableGrant>& grants);

// GrantsFromJson reads GrantsJson's form back (sorted).
std::vector<TableGrant> GrantsFromJson(const nlohmann::json& j);

}  // namespace pgwarden

#endif  // PGWARDEN_REMEDIATION_GRANTS_H_
