#include "cmd/privileges.h"

#include <set>

#include "absl/strings/str_cat.h"

namespace pgwarden {
namespace {

constexpr char kMeSql[] =
    "SELECT current_user::text, r.rolsuper, r.rolcreaterole, "
    "  pg_has_role(current_user, 'pg_read_all_stats', 'USAGE'), "
    "  pg_has_role(current_user, 'pg_signal_backend', 'USAGE'), "
    "  EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_stat_statements') "
    "FROM pg_roles r WHERE r.rolname = current_user";

constexpr char kOwnersSql[] =
    "SELECT DISTINCT pg_get_userbyid(c.relowner) FROM pg_class c "
    "JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE c.relkind IN ('r', 'p') "
    "  AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
    "  AND n.nspname NOT LIKE 'pg\\_toast%' "
    "  AND NOT pg_has_role(current_user, c.relowner, 'USAGE') ORDER BY 1";

constexpr char kTableOwnerSql[] =
    "SELECT pg_get_userbyid(c.relowner) FROM pg_class c "
    "JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE n.nspname = $1 AND c.relname = $2 "
    "  AND NOT pg_has_role(current_user, c.relowner, 'USAGE')";

// ForeignOwners lists the owners of `tables` (every user table when empty)
// whose role the connected user is not a member of.
absl::StatusOr<std::set<std::string>> ForeignOwners(pg::Session& conn,
                                                    const std::vector<TableRef>& tables) {
  std::set<std::string> owners;
  if (tables.empty()) {
    absl::StatusOr<pg::Result> r = conn.Query(kOwnersSql);
    if (!r.ok()) return r.status();
    for (const pg::Row& row : *r) owners.insert(row.Text(0));
    return owners;
  }
  for (const TableRef& t : tables) {
    absl::StatusOr<pg::Result> r = conn.Query(kTableOwnerSql, {t.schema, t.table});
    if (!r.ok()) return r.status();
    if (!r->empty()) owners.insert((*r)[0].Text(0));
  }
  return owners;
}

absl::Status Failed(const absl::Status& s) {
  return absl::UnavailableError(absl::StrCat("checking privileges: ", s.message()));
}

}  // namespace

absl::StatusOr<std::vector<MissingPrivilege>> CheckPrivileges(pg::Session& conn,
                                                              const RemediationConfig& config,
                                                              const std::vector<TableRef>& tables) {
  std::vector<MissingPrivilege> out;
  absl::StatusOr<pg::Result> r = conn.Query(kMeSql);
  if (!r.ok()) return Failed(r.status());
  if (r->empty()) return Failed(absl::NotFoundError("the connected role is not in pg_roles"));
  const pg::Row& me = (*r)[0];
  const std::string qname = conn.QuoteName(me.Text(0));
  if (!me.Bool(5)) {
    out.push_back({"pg_stat_statements",
                   "rows deleted per role (attribution confidence); without it only "
                   "pg_stat_activity and pg_locks name suspects",
                   "CREATE EXTENSION pg_stat_statements  -- with shared_preload_libraries = "
                   "'pg_stat_statements'",
                   false});
  }
  if (me.Bool(1)) return out;  // a superuser has every privilege
  if (!me.Bool(3)) {
    out.push_back({"pg_read_all_stats",
                   "reading other roles' statements in pg_stat_activity and "
                   "pg_stat_statements (attribution, in-flight detection)",
                   absl::StrCat("GRANT pg_monitor TO ", qname), true});
  }
  if (config.mode == RemediationMode::kOff) return out;
  if (config.HasAction(ActionKind::kNologin) && !me.Bool(2)) {
    out.push_back({"CREATEROLE", "action nologin (ALTER ROLE ... NOLOGIN)",
                   absl::StrCat("ALTER ROLE ", qname, " CREATEROLE"), true});
  }
  const bool signals =
      config.HasAction(ActionKind::kTerminate) || config.inflight.enabled || config.runaway.enabled;
  if (signals && !me.Bool(4)) {
    out.push_back({"pg_signal_backend",
                   "action terminate and the session guard (pg_cancel_backend, "
                   "pg_terminate_backend on other roles' sessions)",
                   absl::StrCat("GRANT pg_signal_backend TO ", qname), true});
  }
  if (!config.HasAction(ActionKind::kRevokeWrites)) return out;
  absl::StatusOr<std::set<std::string>> owners = ForeignOwners(conn, tables);
  if (!owners.ok()) return Failed(owners.status());
  for (const std::string& owner : *owners) {
    out.push_back({absl::StrCat("member of ", owner),
                   absl::StrCat("action revoke_writes on tables owned by ", owner,
                                " (only the owner's grants can be revoked, and undone)"),
                   absl::StrCat("GRANT ", conn.QuoteName(owner), " TO ", qname), true});
  }
  return out;
}

}  // namespace pgwarden
