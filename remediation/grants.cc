#include "remediation/grants.h"

#include <algorithm>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace pgwarden {

bool TableGrant::operator<(const TableGrant& o) const {
  return std::tie(privilege, grantor, grantable) < std::tie(o.privilege, o.grantor, o.grantable);
}
bool TableGrant::operator==(const TableGrant& o) const {
  return privilege == o.privilege && grantor == o.grantor && grantable == o.grantable;
}

bool IsWritePrivilege(const std::string& p) {
  return p == "INSERT" || p == "UPDATE" || p == "DELETE" || p == "TRUNCATE";
}

absl::StatusOr<std::vector<TableGrant>> ReadTableGrants(pg::Session& conn, const std::string& role,
                                                        const TableRef& table) {
  absl::StatusOr<pg::Result> r = conn.Query(
      "SELECT a.privilege_type, coalesce(g.rolname, a.grantor::text), a.is_grantable "
      "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
      "CROSS JOIN LATERAL aclexplode(coalesce(c.relacl, acldefault('r', c.relowner))) a "
      "LEFT JOIN pg_roles g ON g.oid = a.grantor "
      "WHERE n.nspname = $1 AND c.relname = $2 "
      "  AND a.grantee = (SELECT oid FROM pg_roles WHERE rolname = $3) "
      "ORDER BY 1, 2, 3",
      {table.schema, table.table, role});
  if (!r.ok()) {
    return absl::UnavailableError(absl::StrCat("reading grants of ", role, " on ", table.schema,
                                               ".", table.table, ": ", r.status().message()));
  }
  std::vector<TableGrant> out;
  for (const pg::Row& row : *r) out.push_back({row.Text(0), row.Text(1), row.Bool(2)});
  std::sort(out.begin(), out.end());
  return out;
}

absl::StatusOr<std::string> TableOwner(pg::Session& conn, const TableRef& t) {
  absl::StatusOr<pg::Result> r = conn.Query(
      "SELECT pg_get_userbyid(c.relowner) FROM pg_class c "
      "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2",
      {t.schema, t.table});
  if (!r.ok()) {
    return absl::UnavailableError(
        absl::StrCat("reading owner of ", t.schema, ".", t.table, ": ", r.status().message()));
  }
  if (r->empty()) return absl::NotFoundError(absl::StrCat(t.schema, ".", t.table, " not found"));
  return (*r)[0].Text(0);
}

std::string GrantSql(const pg::Session& quoter, const std::vector<TableGrant>& grants,
                     const TableRef& table, const std::string& role) {
  std::vector<std::string> plain, with_option;
  for (const TableGrant& g : grants) {
    std::vector<std::string>& list = g.grantable ? with_option : plain;
    if (std::find(list.begin(), list.end(), g.privilege) == list.end()) {
      list.push_back(g.privilege);
    }
  }
  std::sort(plain.begin(), plain.end());
  std::sort(with_option.begin(), with_option.end());
  std::vector<std::string> stmts;
  const std::string target = quoter.QualifiedName(table.schema, table.table);
  const std::string grantee = quoter.QuoteName(role);
  if (!plain.empty()) {
    stmts.push_back(
        absl::StrCat("GRANT ", absl::StrJoin(plain, ", "), " ON TABLE ", target, " TO ", grantee));
  }
  if (!with_option.empty()) {
    stmts.push_back(absl::StrCat("GRANT ", absl::StrJoin(with_option, ", "), " ON TABLE ", target,
                                 " TO ", grantee, " WITH GRANT OPTION"));
  }
  return absl::StrJoin(stmts, "; ");
}

nlohmann::json GrantsJson(const std::vector<TableGrant>& grants) {
  nlohmann::json out = nlohmann::json::array();
  for (const TableGrant& g : grants) {
    out.push_back({{"privilege", g.privilege}, {"grantor", g.grantor}, {"grantable", g.grantable}});
  }
  return out;
}

std::vector<TableGrant> GrantsFromJson(const nlohmann::json& j) {
  std::vector<TableGrant> out;
  if (!j.is_array()) return out;
  for (const nlohmann::json& g : j) {
    out.push_back({g.value("privilege", ""), g.value("grantor", ""), g.value("grantable", false)});
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace pgwarden
