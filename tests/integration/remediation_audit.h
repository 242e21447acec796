#ifndef PGWARDEN_TESTS_INTEGRATION_REMEDIATION_AUDIT_H_
#define PGWARDEN_TESTS_INTEGRATION_REMEDIATION_AUDIT_H_

// What the remediation tests read back: a role's state as the superuser
// sees it, and an agent's audit log.

#include <cstdint>
#include <fstream>
#include <pqxx/pqxx>
#include <string>
#include <vector>

#include "catch2/catch.hpp"
#include "nlohmann/json.hpp"

namespace pgwarden::testing {

// RoleState is what containment changes about a role, read as superuser.
struct RoleState {
  bool can_login = false;
  int64_t sessions = 0;
  bool can_delete = false;
};

inline RoleState ReadRole(pqxx::connection& su, const std::string& role) {
  pqxx::nontransaction tx(su);
  pqxx::row r = tx.exec_params1(
      "SELECT (SELECT rolcanlogin FROM pg_roles WHERE rolname = $1), "
      "  (SELECT count(*) FROM pg_stat_activity WHERE usename = $1), "
      "  has_table_privilege($1, 'public.customers', 'DELETE')",
      role);
  return RoleState{r[0].as<bool>(), r[1].as<int64_t>(), r[2].as<bool>()};
}

inline bool Contained(const RoleState& s) {
  return !s.can_login && s.sessions == 0 && !s.can_delete;
}

// AuditRecords are the records of the audit log at `path`, in file order.
inline std::vector<nlohmann::json> AuditRecords(const std::string& path) {
  std::vector<nlohmann::json> out;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    REQUIRE_FALSE(j.is_discarded());
    out.push_back(std::move(j));
  }
  return out;
}

// Records of `role` with `result`, in file order.
inline std::vector<nlohmann::json> Records(const std::vector<nlohmann::json>& all,
                                           const std::string& role, const std::string& result) {
  std::vector<nlohmann::json> out;
  for (const nlohmann::json& r : all) {
    if (r.value("role", "") == role && r.value("result", "") == result) out.push_back(r);
  }
  return out;
}

inline bool HasAction(const std::vector<nlohmann::json>& records, const std::string& action) {
  for (const nlohmann::json& r : records) {
    if (r.value("action", "") == action) return true;
  }
  return false;
}

}  // namespace pgwarden::testing

#endif  // PGWARDEN_TESTS_INTEGRATION_REMEDIATION_AUDIT_H_
