#include "remediation/remediator.h"

#include <algorithm>
#include <pqxx/pqxx>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "core/log.h"

namespace pgwarden {
namespace {

constexpr char kWritePrivileges[] = "INSERT, UPDATE, DELETE, TRUNCATE";
constexpr int kTerminateWaitMs = 2000;

bool IsWritePrivilege(const std::string& p) {
  return p == "INSERT" || p == "UPDATE" || p == "DELETE" || p == "TRUNCATE";
}

std::string QualifiedName(pqxx::connection& conn, const TableRef& t) {
  return absl::StrCat(conn.quote_name(t.schema), ".", conn.quote_name(t.table));
}

// SetTimeouts bounds the agent's own statements inside transaction `w`.
void SetTimeouts(pqxx::transaction_base& w, absl::Duration timeout) {
  const int64_t ms = std::max<int64_t>(100, absl::ToInt64Milliseconds(timeout));
  w.exec(absl::StrCat("SET LOCAL statement_timeout = ", ms));
  w.exec(absl::StrCat("SET LOCAL lock_timeout = ", ms));
}

// GrantSql rebuilds GRANT statements for `grants` (grantable ones WITH GRANT
// OPTION), in a stable order.
std::string GrantSql(pqxx::connection& conn, const std::vector<TableGrant>& grants,
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
  const std::string target = QualifiedName(conn, table);
  const std::string grantee = conn.quote_name(role);
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

absl::StatusOr<std::string> TableOwner(pqxx::connection& conn, const TableRef& t) {
  try {
    pqxx::nontransaction tx(conn);
    pqxx::result r = tx.exec_params(
        "SELECT pg_get_userbyid(c.relowner) FROM pg_class c "
        "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2",
        t.schema, t.table);
    if (r.empty()) return absl::NotFoundError(absl::StrCat(t.schema, ".", t.table, " not found"));
    return r[0][0].as<std::string>();
  } catch (const std::exception& e) {
    return absl::UnavailableError(
        absl::StrCat("reading owner of ", t.schema, ".", t.table, ": ", e.what()));
  }
}

}  // namespace

const char* ActionResultName(ActionResult result) {
  switch (result) {
    case ActionResult::kDone:
      return "done";
    case ActionResult::kDryRun:
      return "dry_run";
    case ActionResult::kRefused:
      return "refused";
    case ActionResult::kFailed:
      return "failed";
  }
  return "?";
}

nlohmann::json ActionRecord::ToJson() const {
  nlohmann::json j = {{"id", id},
                      {"action", ActionKindName(action)},
                      {"role", role},
                      {"result", ActionResultName(result)},
                      {"reason", reason},
                      {"sql", sql},
                      {"undo_sql", undo_sql}};
  if (!table.empty()) {
    j["schema"] = schema;
    j["table"] = table;
  }
  if (!details.empty()) j["details"] = details;
  return j;
}

bool TableGrant::operator<(const TableGrant& o) const {
  return std::tie(privilege, grantor, grantable) < std::tie(o.privilege, o.grantor, o.grantable);
}
bool TableGrant::operator==(const TableGrant& o) const {
  return privilege == o.privilege && grantor == o.grantor && grantable == o.grantable;
}

absl::StatusOr<std::vector<TableGrant>> ReadTableGrants(pqxx::connection& conn,
                                                        const std::string& role,
                                                        const TableRef& table) {
  std::vector<TableGrant> out;
  try {
    pqxx::nontransaction tx(conn);
    pqxx::result r = tx.exec_params(
        "SELECT a.privilege_type, coalesce(g.rolname, a.grantor::text), a.is_grantable "
        "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "CROSS JOIN LATERAL aclexplode(coalesce(c.relacl, acldefault('r', c.relowner))) a "
        "LEFT JOIN pg_roles g ON g.oid = a.grantor "
        "WHERE n.nspname = $1 AND c.relname = $2 "
        "  AND a.grantee = (SELECT oid FROM pg_roles WHERE rolname = $3) "
        "ORDER BY 1, 2, 3",
        table.schema, table.table, role);
    for (const auto& row : r) {
      out.push_back({row[0].as<std::string>(), row[1].as<std::string>(), row[2].as<bool>()});
    }
  } catch (const std::exception& e) {
    return absl::UnavailableError(absl::StrCat("reading grants of ", role, " on ", table.schema,
                                               ".", table.table, ": ", e.what()));
  }
  std::sort(out.begin(), out.end());
  return out;
}

absl::StatusOr<std::unique_ptr<Remediator>> Remediator::Create(
    const RemediationConfig& config, const std::string& agent_role, const std::string& audit_path,
    prometheus::Registry* registry, const prometheus::Labels& const_labels, const Clock* clock) {
  absl::StatusOr<std::shared_ptr<AuditLog>> audit = AuditLog::Open(audit_path);
  if (!audit.ok()) return audit.status();
  prometheus::Family<prometheus::Counter>* family = nullptr;
  if (registry != nullptr) {
    try {
      family = &prometheus::BuildCounter()
                    .Name("pgwarden_remediation_actions_total")
                    .Help(
                        "Remediation actions by action and result (done, dry_run, refused, "
                        "failed).")
                    .Labels(const_labels)
                    .Register(*registry);
    } catch (const std::exception& e) {
      return absl::InvalidArgumentError(
          absl::StrCat("registering pgwarden_remediation_actions_total: ", e.what()));
    }
  }
  return std::unique_ptr<Remediator>(
      new Remediator(config, agent_role, *std::move(audit), family, clock));
}

absl::StatusOr<bool> Remediator::IsLeader(pqxx::connection& conn) {
  std::lock_guard<std::mutex> lock(mu_);
  return IsLeaderLocked(conn);
}

nlohmann::json Remediator::Status() const {
  std::lock_guard<std::mutex> lock(mu_);
  nlohmann::json actions = nlohmann::json::array();
  for (ActionKind k : config_.actions) actions.push_back(ActionKindName(k));
  nlohmann::json recent = nlohmann::json::array();
  for (const ActionRecord& r : recent_) recent.push_back(r.ToJson());
  return {{"mode", RemediationModeName(config_.mode)},
          {"actions", actions},
          {"leader", leader_},
          {"audit_file", audit_->path()},
          {"recent", recent}};
}

absl::StatusOr<bool> Remediator::IsLeaderLocked(pqxx::connection& conn) {
  const int backend = conn.backendpid();
  if (backend != 0 && backend == leader_backend_pid_) return true;
  try {
    pqxx::nontransaction tx(conn);
    const bool got =
        tx.exec_params1("SELECT pg_try_advisory_lock($1::bigint)", config_.advisory_lock_key)[0]
            .as<bool>();
    leader_backend_pid_ = got ? conn.backendpid() : 0;
    leader_ = got;
    return got;
  } catch (const std::exception& e) {
    leader_ = false;
    return absl::UnavailableError(absl::StrCat("pg_try_advisory_lock: ", e.what()));
  }
}

std::string Remediator::RoleGuard(pqxx::connection& conn, const std::string& role,
                                  const std::vector<TableRef>& tables, bool* is_error) {
  *is_error = false;
  if (role.empty()) return "no role to act on";
  for (const std::string& p : config_.protected_roles) {
    if (p == role) return "protected role (remediation.protected_roles)";
  }
  if (role == agent_role_) return "the agent's own role";
  try {
    pqxx::nontransaction tx(conn);
    pqxx::row me = tx.exec1("SELECT current_user::text, session_user::text");
    if (role == me[0].as<std::string>() || role == me[1].as<std::string>()) {
      return "the agent's own role";
    }
    pqxx::result r = tx.exec_params("SELECT rolsuper FROM pg_roles WHERE rolname = $1", role);
    if (r.empty()) return "role does not exist";
    if (r[0][0].as<bool>()) return "superuser";
  } catch (const std::exception& e) {
    *is_error = true;
    return absl::StrCat("checking role: ", e.what());
  }
  for (const TableRef& t : tables) {
    absl::StatusOr<std::string> owner = TableOwner(conn, t);
    if (!owner.ok()) {
      if (absl::IsNotFound(owner.status())) continue;  // dropped: nothing to own
      *is_error = true;
      return std::string(owner.status().message());
    }
    if (*owner == role) return absl::StrCat("owner of the affected table ", t.schema, ".", t.table);
  }
  return "";
}

ActionRecord Remediator::Finish(const std::string& incident, const std::string& target,
                                ActionRecord rec) {
  AuditRecord a;
  a.time = clock_->Now();
  a.incident = incident;
  a.target = target;
  a.mode = RemediationModeName(config_.mode);
  a.action = ActionKindName(rec.action);
  a.role = rec.role;
  a.schema = rec.schema;
  a.table = rec.table;
  a.result = ActionResultName(rec.result);
  a.reason = rec.reason;
  a.sql = rec.sql;
  a.undo_sql = rec.undo_sql;
  a.details = rec.details;
  if (absl::Status s = audit_->Append(&a); !s.ok()) {
    PGW_LOG(Error) << "remediation audit write failed: " << s;
    rec.reason = absl::StrCat(rec.reason, rec.reason.empty() ? "" : "; ",
                              "AUDIT WRITE FAILED: ", s.message());
  } else {
    rec.id = a.id;
  }
  recent_.push_back(rec);
  while (recent_.size() > 50) recent_.pop_front();
  if (family_ != nullptr) {
    prometheus::Labels labels = {{"action", ActionKindName(rec.action)},
                                 {"result", ActionResultName(rec.result)}};
    // The target is a per-series label unless the caller made it constant.
    if (family_->GetConstantLabels().count("target") == 0) labels["target"] = target;
    try {
      family_->Add(labels).Increment();
    } catch (const std::exception& e) {
      PGW_LOG(Error) << "pgwarden_remediation_actions_total: " << e.what();
    }
  }
  const LogLevel level = rec.result == ActionResult::kFailed ? LogLevel::kError
                         : rec.result == ActionResult::kDone ? LogLevel::kWarning
                                                             : LogLevel::kInfo;
  if (LogEnabled(level)) {
    internal::LogMessage(level, __FILE__, __LINE__).stream()
        << "remediation " << ActionKindName(rec.action) << " role=\"" << rec.role << "\" "
        << ActionResultName(rec.result) << (rec.reason.empty() ? "" : ": ") << rec.reason
        << (rec.sql.empty() ? "" : " sql: ") << rec.sql;
  }
  return rec;
}

ActionRecord Remediator::Nologin(pqxx::connection& conn, const std::string& role) {
  ActionRecord rec;
  rec.action = ActionKind::kNologin;
  rec.role = role;
  rec.sql = absl::StrCat("ALTER ROLE ", conn.quote_name(role), " NOLOGIN");
  rec.undo_sql = absl::StrCat("ALTER ROLE ", conn.quote_name(role), " LOGIN");
  try {
    {
      pqxx::nontransaction tx(conn);
      pqxx::result r = tx.exec_params("SELECT rolcanlogin FROM pg_roles WHERE rolname = $1", role);
      if (r.empty()) {
        rec.result = ActionResult::kFailed;
        rec.reason = "role does not exist";
        return rec;
      }
      if (!r[0][0].as<bool>()) {
        rec.result =
            config_.mode == RemediationMode::kEnforce ? ActionResult::kDone : ActionResult::kDryRun;
        rec.reason = "role already has NOLOGIN; nothing to run";
        rec.sql.clear();
        rec.undo_sql.clear();
        return rec;
      }
    }
    if (config_.mode != RemediationMode::kEnforce) {
      rec.result = ActionResult::kDryRun;
      rec.reason = "dry-run: not executed";
      return rec;
    }
    pqxx::work w(conn);
    SetTimeouts(w, config_.statement_timeout);
    w.exec(rec.sql);
    w.commit();
    rec.result = ActionResult::kDone;
  } catch (const std::exception& e) {
    rec.result = ActionResult::kFailed;
    rec.reason = e.what();
  }
  return rec;
}

ActionRecord Remediator::Terminate(pqxx::connection& conn, const std::string& role) {
  ActionRecord rec;
  rec.action = ActionKind::kTerminate;
  rec.role = role;
  const std::string who =
      absl::StrCat("usename = ", conn.quote(role), " AND pid <> pg_backend_pid()");
  const std::string cancel_sql =
      absl::StrCat("SELECT pid, pg_cancel_backend(pid) FROM pg_stat_activity WHERE ", who,
                   " AND state = 'active'");
  const std::string terminate_sql =
      absl::StrCat("SELECT pid, pg_terminate_backend(pid, ", kTerminateWaitMs,
                   ") FROM pg_stat_activity WHERE ", who);
  rec.sql = absl::StrCat(cancel_sql, "; ", terminate_sql);
  rec.undo_sql = "";  // a terminated session cannot be brought back
  try {
    std::vector<int> pids;
    {
      pqxx::nontransaction tx(conn);
      for (const auto& row :
           tx.exec(absl::StrCat("SELECT pid FROM pg_stat_activity WHERE ", who, " ORDER BY pid"))) {
        pids.push_back(row[0].as<int>());
      }
    }
    rec.details["pids"] = pids;
    if (config_.mode != RemediationMode::kEnforce) {
      rec.result = ActionResult::kDryRun;
      rec.reason = "dry-run: not executed";
      return rec;
    }
    std::vector<int> cancelled, terminated, survived;
    {
      pqxx::nontransaction tx(conn);
      for (const auto& row : tx.exec(cancel_sql)) {
        if (row[1].as<bool>()) cancelled.push_back(row[0].as<int>());
      }
    }
    // Give cancelled statements a moment to stop before the backends go.
    const absl::Time deadline = absl::Now() + config_.cancel_grace;
    while (!cancelled.empty() && absl::Now() < deadline) {
      pqxx::nontransaction tx(conn);
      if (tx.exec1(absl::StrCat("SELECT count(*) FROM pg_stat_activity WHERE ", who,
                                " AND state = 'active'"))[0]
              .as<int64_t>() == 0) {
        break;
      }
      absl::SleepFor(absl::Milliseconds(50));
    }
    {
      pqxx::work w(conn);
      SetTimeouts(w, config_.statement_timeout + absl::Milliseconds(kTerminateWaitMs));
      for (const auto& row : w.exec(terminate_sql)) {
        (row[1].as<bool>() ? terminated : survived).push_back(row[0].as<int>());
      }
      w.commit();
    }
    // pg_terminate_backend is also false for a backend that exited between
    // the pg_stat_activity read and the signal (e.g. its client quit on the
    // cancel): only a backend still listed a moment later survived.
    std::vector<int> ended;
    const absl::Time settle = absl::Now() + absl::Milliseconds(500);
    while (!survived.empty()) {
      std::vector<int> still;
      {
        pqxx::nontransaction tx(conn);
        for (const auto& row :
             tx.exec_params("SELECT pid FROM pg_stat_activity WHERE pid = ANY($1::int[])",
                            absl::StrCat("{", absl::StrJoin(survived, ","), "}"))) {
          still.push_back(row[0].as<int>());
        }
      }
      for (int pid : survived) {
        if (std::find(still.begin(), still.end(), pid) == still.end()) ended.push_back(pid);
      }
      survived = std::move(still);
      if (survived.empty() || absl::Now() >= settle) break;
      absl::SleepFor(absl::Milliseconds(50));
    }
    rec.details["cancelled"] = cancelled;
    rec.details["terminated"] = terminated;
    if (!ended.empty()) rec.details["ended"] = ended;
    if (!survived.empty()) {
      rec.details["survived"] = survived;
      rec.result = ActionResult::kFailed;
      rec.reason = absl::StrCat("backends still alive after ", kTerminateWaitMs,
                                "ms: ", absl::StrJoin(survived, ","));
      return rec;
    }
    rec.result = ActionResult::kDone;
    if (terminated.empty()) {
      rec.reason = cancelled.empty() && ended.empty()
                       ? "no sessions to terminate"
                       : "statements cancelled; the sessions then ended by themselves";
    }
  } catch (const std::exception& e) {
    rec.result = ActionResult::kFailed;
    rec.reason = e.what();
  }
  return rec;
}

ActionRecord Remediator::RevokeWrites(pqxx::connection& conn, const std::string& role,
                                      const TableRef& table) {
  ActionRecord rec;
  rec.action = ActionKind::kRevokeWrites;
  rec.role = role;
  rec.schema = table.schema;
  rec.table = table.table;
  rec.sql = absl::StrCat("REVOKE ", kWritePrivileges, " ON TABLE ", QualifiedName(conn, table),
                         " FROM ", conn.quote_name(role));
  absl::StatusOr<std::vector<TableGrant>> before = ReadTableGrants(conn, role, table);
  if (!before.ok()) {
    rec.result = ActionResult::kFailed;
    rec.reason = std::string(before.status().message());
    return rec;
  }
  rec.details["grants_before"] = GrantsJson(*before);
  std::vector<TableGrant> writes;
  for (const TableGrant& g : *before) {
    if (IsWritePrivilege(g.privilege)) writes.push_back(g);
  }
  if (config_.mode != RemediationMode::kEnforce) {
    // A REVOKE run as the owner removes the owner's grants.
    absl::StatusOr<std::string> owner = TableOwner(conn, table);
    std::vector<TableGrant> predicted;
    for (const TableGrant& g : writes) {
      if (owner.ok() && g.grantor == *owner) predicted.push_back(g);
    }
    rec.undo_sql = GrantSql(conn, predicted, table, role);
    rec.result = ActionResult::kDryRun;
    rec.reason = "dry-run: not executed";
    return rec;
  }
  try {
    pqxx::work w(conn);
    SetTimeouts(w, config_.statement_timeout);
    w.exec(rec.sql);
    w.commit();
  } catch (const std::exception& e) {
    rec.result = ActionResult::kFailed;
    rec.reason = e.what();
    return rec;
  }
  absl::StatusOr<std::vector<TableGrant>> after = ReadTableGrants(conn, role, table);
  if (!after.ok()) {
    rec.result = ActionResult::kFailed;
    rec.reason = absl::StrCat("revoked, but cannot read grants back (undo unknown): ",
                              after.status().message());
    return rec;
  }
  rec.details["grants_after"] = GrantsJson(*after);
  std::vector<TableGrant> removed;
  std::set_difference(before->begin(), before->end(), after->begin(), after->end(),
                      std::back_inserter(removed));
  rec.details["grants_removed"] = GrantsJson(removed);
  rec.undo_sql = GrantSql(conn, removed, table, role);
  rec.result = ActionResult::kDone;
  try {
    pqxx::nontransaction tx(conn);
    pqxx::result r = tx.exec_params(
        "SELECT has_table_privilege($1::text::name, c.oid, 'DELETE'), "
        "       has_table_privilege($1::text::name, c.oid, 'TRUNCATE') "
        "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = $2 AND c.relname = $3",
        role, table.schema, table.table);
    if (!r.empty() && (r[0][0].as<bool>() || r[0][1].as<bool>())) {
      rec.details["still_can_delete"] = true;
      rec.reason =
          "role can still DELETE or TRUNCATE through PUBLIC, a group role or another grantor";
    }
  } catch (const std::exception& e) {
    rec.reason = absl::StrCat("privilege check after revoke failed: ", e.what());
  }
  return rec;
}

std::string Remediator::LeaderAndRoleGuard(const absl::StatusOr<bool>& leader,
                                           pqxx::connection& conn, const std::string& role,
                                           const std::vector<TableRef>& tables, bool* failed) {
  if (!leader.ok()) {
    *failed = true;
    return std::string(leader.status().message());
  }
  if (!*leader) {
    return absl::StrCat("another agent holds the remediation advisory lock (key ",
                        config_.advisory_lock_key, ") and acts instead");
  }
  return RoleGuard(conn, role, tables, failed);
}

std::string Remediator::RateLimitRefusal(const std::string& role) {
  const std::set<std::string> acted = audit_->RolesActedOnSince(clock_->Now() - absl::Hours(1));
  if (acted.count(role) > 0 || static_cast<int64_t>(acted.size()) < config_.max_roles_per_hour) {
    return "";
  }
  return absl::StrCat("rate limit: ", acted.size(),
                      " roles already acted on in the last hour (max_roles_per_hour ",
                      config_.max_roles_per_hour, ")");
}

std::vector<ActionRecord> Remediator::Act(pqxx::connection& conn,
                                          const RemediationRequest& request) {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<ActionRecord> out;
  if (config_.mode == RemediationMode::kOff) return out;
  std::vector<ActionKind> order;
  for (ActionKind k : {ActionKind::kNologin, ActionKind::kTerminate, ActionKind::kRevokeWrites}) {
    if (config_.HasAction(k)) order.push_back(k);
  }
  if (order.empty()) return out;

  absl::StatusOr<bool> leader = IsLeaderLocked(conn);
  for (const Culprit& c : request.attribution.culprits) {
    bool failed = false;
    std::string refusal = LeaderAndRoleGuard(leader, conn, c.role, request.tables, &failed);
    if (refusal.empty() && c.confidence < config_.min_confidence) {
      refusal = absl::StrFormat("attribution confidence %.2f is below min_confidence %.2f",
                                c.confidence, config_.min_confidence);
    }
    if (refusal.empty() && c.rows_attributed < config_.min_rows) {
      refusal =
          absl::StrCat(c.rows_attributed, " rows attributed, below min_rows ", config_.min_rows);
    }
    if (refusal.empty()) refusal = RateLimitRefusal(c.role);
    // Already recorded for this incident: do not repeat (or re-audit).
    auto key = [&](ActionKind kind, const TableRef& t) {
      return std::make_tuple(request.incident_id, c.role, static_cast<int>(kind), t.schema,
                             t.table);
    };
    auto already = [&](ActionKind kind, const TableRef& t) {
      auto it = recorded_.find(key(kind, t));
      if (it == recorded_.end()) return false;
      return it->second == "done" || it->second == "dry_run" || it->second == "refused:" + refusal;
    };
    for (ActionKind kind : order) {
      std::vector<TableRef> tables = {TableRef{}};
      if (kind == ActionKind::kRevokeWrites) tables = request.tables;
      std::vector<TableRef> pending;
      for (const TableRef& t : tables) {
        if (!already(kind, t)) pending.push_back(t);
      }
      if (pending.empty()) continue;
      std::vector<ActionRecord> recs;
      if (!refusal.empty()) {
        ActionRecord rec;
        rec.action = kind;
        rec.role = c.role;
        rec.result = failed ? ActionResult::kFailed : ActionResult::kRefused;
        rec.reason = refusal;
        rec.details = {{"confidence", c.confidence}, {"rows_attributed", c.rows_attributed}};
        if (kind == ActionKind::kRevokeWrites) {
          for (const TableRef& t : pending) {
            ActionRecord r = rec;
            r.schema = t.schema;
            r.table = t.table;
            recs.push_back(std::move(r));
          }
        } else {
          recs.push_back(std::move(rec));
        }
      } else if (kind == ActionKind::kNologin) {
        recs.push_back(Nologin(conn, c.role));
      } else if (kind == ActionKind::kTerminate) {
        recs.push_back(Terminate(conn, c.role));
      } else {
        for (const TableRef& t : pending) recs.push_back(RevokeWrites(conn, c.role, t));
      }
      for (ActionRecord& r : recs) {
        r.details["confidence"] = c.confidence;
        r.details["rows_attributed"] = c.rows_attributed;
        r.details["rows_dropped"] = request.rows_dropped;
        const std::string result = ActionResultName(r.result);
        recorded_[key(kind, TableRef{r.schema, r.table})] =
            r.result == ActionResult::kRefused ? "refused:" + r.reason : result;
        out.push_back(Finish(request.incident_id, request.target, std::move(r)));
      }
    }
  }
  return out;
}

ActionRecord Remediator::ActOnSession(pqxx::connection& conn, const SessionActionRequest& request) {
  std::lock_guard<std::mutex> lock(mu_);
  ActionRecord rec;
  rec.action = request.terminate ? ActionKind::kTerminate : ActionKind::kCancel;
  rec.role = request.role;
  rec.details = {
      {"pid", request.pid}, {"backend_start", request.backend_start}, {"why", request.why}};
  rec.sql = absl::StrCat(
      "SELECT ", request.terminate ? "pg_terminate_backend(pid)" : "pg_cancel_backend(pid)",
      " FROM pg_stat_activity WHERE pid = ", request.pid,
      " AND usename = ", conn.quote(request.role),
      " AND backend_start = ", conn.quote(request.backend_start), "::timestamptz");
  bool failed = false;
  std::string refusal;
  if (config_.mode == RemediationMode::kOff) {
    refusal = "remediation mode is off";
  } else {
    refusal = LeaderAndRoleGuard(IsLeaderLocked(conn), conn, request.role, request.tables, &failed);
  }
  if (refusal.empty()) refusal = RateLimitRefusal(request.role);
  if (!refusal.empty()) {
    rec.result = failed ? ActionResult::kFailed : ActionResult::kRefused;
    rec.reason = refusal;
  } else if (config_.mode != RemediationMode::kEnforce) {
    rec.result = ActionResult::kDryRun;
    rec.reason = "dry-run: not executed";
  } else {
    try {
      pqxx::work w(conn);
      SetTimeouts(w, config_.statement_timeout);
      pqxx::result r = w.exec(rec.sql);
      w.commit();
      if (r.empty()) {
        rec.result = ActionResult::kDone;
        rec.reason = "backend already gone";
      } else if (r[0][0].as<bool>()) {
        rec.result = ActionResult::kDone;
      } else {
        rec.result = ActionResult::kFailed;
        rec.reason = "the server refused to signal the backend";
      }
    } catch (const std::exception& e) {
      rec.result = ActionResult::kFailed;
      rec.reason = e.what();
    }
  }
  std::string schema, table;
  if (!request.tables.empty()) {
    rec.schema = request.tables.front().schema;
    rec.table = request.tables.front().table;
  }
  return Finish(request.incident_id, request.target, std::move(rec));
}

absl::StatusOr<AuditRecord> FindAuditRecord(const std::string& audit_path, int64_t action_id) {
  absl::StatusOr<std::vector<AuditRecord>> all = AuditLog::ReadAll(audit_path);
  if (!all.ok()) return all.status();
  for (const AuditRecord& r : *all) {
    if (r.id == action_id) return r;
  }
  return absl::NotFoundError(absl::StrCat("no action with id ", action_id, " in ", audit_path));
}

absl::StatusOr<AuditRecord> Undo(pqxx::connection& conn, const std::string& audit_path,
                                 int64_t action_id, const Clock* clock) {
  absl::StatusOr<std::shared_ptr<AuditLog>> audit = AuditLog::Open(audit_path);
  if (!audit.ok()) return audit.status();
  absl::StatusOr<std::vector<AuditRecord>> all = AuditLog::ReadAll(audit_path);
  if (!all.ok()) return all.status();
  const AuditRecord* original = nullptr;
  for (const AuditRecord& r : *all) {
    if (r.id == action_id) original = &r;
  }
  if (original == nullptr) {
    return absl::NotFoundError(absl::StrCat("no action with id ", action_id, " in ", audit_path));
  }
  if (original->action == "undo") {
    return absl::FailedPreconditionError(absl::StrCat("action ", action_id, " is itself an undo"));
  }
  if (original->result != "done") {
    return absl::FailedPreconditionError(absl::StrCat(
        "action ", action_id, " was not done (result ", original->result, "): nothing to undo"));
  }
  if (original->undo_sql.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("action ", action_id, " (", original->action, ") cannot be undone",
                     original->action == "terminate" || original->action == "cancel"
                         ? ": terminated sessions and cancelled statements cannot be restored"
                         : ""));
  }
  for (const AuditRecord& r : *all) {
    if (r.action == "undo" && r.undoes == action_id && r.result == "done") {
      return absl::FailedPreconditionError(
          absl::StrCat("action ", action_id, " was already undone by action ", r.id));
    }
  }
  AuditRecord u;
  u.time = clock->Now();
  u.incident = original->incident;
  u.target = original->target;
  u.mode = original->mode;
  u.action = "undo";
  u.role = original->role;
  u.schema = original->schema;
  u.table = original->table;
  u.sql = original->undo_sql;
  u.undo_sql = original->sql;
  u.undoes = action_id;
  absl::Status result = absl::OkStatus();
  try {
    pqxx::work w(conn);
    SetTimeouts(w, absl::Seconds(10));
    w.exec(u.sql);
    w.commit();
    u.result = "done";
  } catch (const std::exception& e) {
    u.result = "failed";
    u.reason = e.what();
    result = absl::FailedPreconditionError(
        absl::StrCat("undo of action ", action_id, " failed: ", e.what()));
  }
  if (absl::Status s = (*audit)->Append(&u); !s.ok()) {
    return absl::InternalError(
        absl::StrCat("undo ", u.result, " but audit write failed: ", s.message()));
  }
  if (!result.ok()) return result;
  return u;
}

}  // namespace pgwarden
