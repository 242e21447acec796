#include "remediation/remediator.h"

#include <set>

#include "absl/strings/str_cat.h"
#include "core/log.h"
#include "core/target_id.h"
#include "remediation/facts.h"

namespace pgwarden {
namespace {

constexpr size_t kRecentRecords = 50;

LogLevel LevelFor(ActionResult result) {
  switch (result) {
    case ActionResult::kFailed:
      return LogLevel::kError;
    case ActionResult::kDone:
      return LogLevel::kWarning;
    default:
      return LogLevel::kInfo;
  }
}

}  // namespace

Remediator::Remediator(const RemediationConfig& config, std::string agent_role,
                       std::shared_ptr<AuditLog> audit,
                       prometheus::Family<prometheus::Counter>* family, const Clock* clock,
                       Degraded* degraded)
    : config_(config),
      agent_role_(std::move(agent_role)),
      audit_(std::move(audit)),
      family_(family),
      clock_(clock),
      degraded_(degraded != nullptr ? degraded : NoDegraded::Get()) {
  for (const ActionSpec& spec : IncidentActions()) {
    if (config_.HasAction(spec.kind)) actions_.push_back(spec.make());
  }
}

absl::StatusOr<prometheus::Family<prometheus::Counter>*> Remediator::RegisterActionsMetric(
    prometheus::Registry* registry, const prometheus::Labels& const_labels,
    const std::vector<std::string>& targets) {
  try {
    prometheus::Family<prometheus::Counter>* family =
        &prometheus::BuildCounter()
             .Name("pgwarden_remediation_actions_total")
             .Help("Remediation actions by action and result (done, dry_run, refused, failed).")
             .Labels(const_labels)
             .Register(*registry);
    constexpr ActionKind kActions[] = {ActionKind::kNologin,   ActionKind::kRevokeWrites,
                                       ActionKind::kTerminate, ActionKind::kCancel,
                                       ActionKind::kUndo,      ActionKind::kCreateSlot,
                                       ActionKind::kDropSlot,  ActionKind::kRestoreRows};
    constexpr ActionResult kResults[] = {ActionResult::kDone, ActionResult::kDryRun,
                                         ActionResult::kRefused, ActionResult::kFailed};
    for (const std::string& target : targets) {
      for (ActionKind a : kActions) {
        for (ActionResult r : kResults) {
          prometheus::Labels labels = {{"action", ActionKindName(a)},
                                       {"result", ActionResultName(r)}};
          if (const_labels.count("target") == 0) labels.merge(TargetLabels(target));
          family->Add(labels);
        }
      }
    }
    return family;
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat("registering pgwarden_remediation_actions_total: ", e.what()));
  }
}

absl::StatusOr<std::unique_ptr<Remediator>> Remediator::Create(
    const RemediationConfig& config, const std::string& agent_role, const std::string& audit_path,
    prometheus::Registry* registry, const prometheus::Labels& const_labels, const Clock* clock,
    Degraded* degraded) {
  absl::StatusOr<std::shared_ptr<AuditLog>> audit = AuditLog::Open(audit_path);
  if (!audit.ok()) return audit.status();
  prometheus::Family<prometheus::Counter>* family = nullptr;
  if (registry != nullptr) {
    absl::StatusOr<prometheus::Family<prometheus::Counter>*> f =
        RegisterActionsMetric(registry, const_labels);
    if (!f.ok()) return f.status();
    family = *f;
  }
  return std::unique_ptr<Remediator>(
      new Remediator(config, agent_role, *std::move(audit), family, clock, degraded));
}

absl::StatusOr<bool> Remediator::IsLeader(pg::Session& conn) {
  absl::MutexLock lock(&act_mu_);
  return IsLeaderLocked(conn);
}

nlohmann::json Remediator::Status() const {
  nlohmann::json actions = nlohmann::json::array();
  for (ActionKind k : config_.actions) actions.push_back(ActionKindName(k));
  nlohmann::json recent = nlohmann::json::array();
  absl::MutexLock lock(&status_mu_);
  for (const ActionRecord& r : recent_) recent.push_back(r.ToJson());
  return {{"mode", RemediationModeName(config_.mode)},
          {"actions", actions},
          {"leader", leader_},
          {"audit_file", audit_->path()},
          {"recent", recent}};
}

absl::StatusOr<bool> Remediator::IsLeaderLocked(pg::Session& conn) {
  const int backend = conn.BackendPid();
  if (backend != 0 && backend == leader_backend_pid_) return true;
  absl::StatusOr<pg::Result> r = conn.Query("SELECT pg_try_advisory_lock($1::bigint)",
                                            {absl::StrCat(config_.advisory_lock_key)});
  const bool got = r.ok() && !r->empty() && (*r)[0].Bool(0);
  leader_backend_pid_ = got ? conn.BackendPid() : 0;
  {
    absl::MutexLock lock(&status_mu_);
    leader_ = got;
  }
  if (!r.ok())
    return absl::UnavailableError(absl::StrCat("pg_try_advisory_lock: ", r.status().message()));
  return got;
}

Refusal Remediator::RoleRefusal(const absl::StatusOr<bool>& leader, pg::Session& conn,
                                const std::string& role, const std::vector<TableRef>& tables) {
  Refusal r = CheckLeader(leader, config_.advisory_lock_key);
  if (r.ok()) r = CheckRoleName(config_, agent_role_, role);
  if (r.ok()) r = CheckRoleFacts(role, GatherRoleFacts(conn, role, tables));
  return r;
}

ActionRecord Remediator::Perform(pg::Session& conn, const Action& action, const std::string& role,
                                 const TableRef& table) {
  ActionPlan plan = action.Plan(conn, role, table);
  if (absl::Status s = action.Inspect(conn, &plan); !s.ok()) {
    return plan.Record(ActionResult::kFailed, std::string(s.message()));
  }
  const bool enforce = config_.mode == RemediationMode::kEnforce;
  if (plan.nothing_to_do) {
    return plan.Record(enforce ? ActionResult::kDone : ActionResult::kDryRun, plan.note);
  }
  if (!enforce) return plan.Record(ActionResult::kDryRun, "dry-run: not executed");
  return action.Run(conn, plan, ActionContext{&config_, clock_});
}

void Remediator::ActOnCulprit(pg::Session& conn, const RemediationRequest& request,
                              const Culprit& c, const Refusal& refusal,
                              std::vector<ActionRecord>* out) {
  auto key = [&](ActionKind kind, const std::string& schema, const std::string& table) {
    return std::make_tuple(request.incident_id, c.role, kind, schema, table);
  };
  // Already recorded for this incident: do not repeat (or re-audit).
  auto already = [&](ActionKind kind, const TableRef& t) {
    auto it = recorded_.find(key(kind, t.schema, t.table));
    if (it == recorded_.end()) return false;
    const Recorded& r = it->second;
    return r.result == ActionResult::kDone || r.result == ActionResult::kDryRun ||
           (r.result == ActionResult::kRefused && r.reason == refusal.reason);
  };
  for (const std::unique_ptr<Action>& action : actions_) {
    const std::vector<TableRef> tables =
        action->per_table() ? request.tables : std::vector<TableRef>{TableRef{}};
    for (const TableRef& t : tables) {
      if (already(action->kind(), t)) continue;
      ActionRecord rec;
      if (refusal.ok()) {
        rec = Perform(conn, *action, c.role, t);
      } else {
        rec.action = action->kind();
        rec.role = c.role;
        rec.schema = t.schema;
        rec.table = t.table;
        rec.result = refusal.failed() ? ActionResult::kFailed : ActionResult::kRefused;
        rec.reason = refusal.reason;
      }
      rec.details["confidence"] = c.confidence;
      rec.details["rows_attributed"] = c.rows_attributed;
      rec.details["rows_dropped"] = request.rows_dropped;
      recorded_[key(rec.action, rec.schema, rec.table)] = Recorded{rec.result, rec.reason};
      out->push_back(Finish(request.incident_id, request.target, std::move(rec)));
    }
  }
}

std::vector<ActionRecord> Remediator::Act(pg::Session& conn, const RemediationRequest& request) {
  absl::MutexLock lock(&act_mu_);
  std::vector<ActionRecord> out;
  if (config_.mode == RemediationMode::kOff || actions_.empty()) return out;
  const absl::StatusOr<bool> leader = IsLeaderLocked(conn);
  for (const Culprit& c : request.attribution.culprits) {
    Refusal refusal = RoleRefusal(leader, conn, c.role, request.tables);
    if (refusal.ok()) refusal = CheckConfidence(c.confidence, config_.min_confidence);
    if (refusal.ok()) refusal = CheckRows(c.rows_attributed, config_.min_rows);
    if (refusal.ok()) {
      refusal = CheckRateLimit(c.role, audit_->RolesActedOnSince(clock_->Now() - absl::Hours(1)),
                               config_.max_roles_per_hour);
    }
    ActOnCulprit(conn, request, c, refusal, &out);
  }
  return out;
}

ActionRecord Remediator::ActOnSession(pg::Session& conn, const SessionActionRequest& request) {
  absl::MutexLock lock(&act_mu_);
  ActionRecord rec;
  rec.action = request.terminate ? ActionKind::kTerminate : ActionKind::kCancel;
  rec.role = request.role;
  rec.details = {
      {"pid", request.pid}, {"backend_start", request.backend_start}, {"why", request.why}};
  rec.sql = absl::StrCat(
      "SELECT ", request.terminate ? "pg_terminate_backend(pid)" : "pg_cancel_backend(pid)",
      " FROM pg_stat_activity WHERE pid = ", request.pid,
      " AND usename = ", conn.Quote(request.role),
      " AND backend_start = ", conn.Quote(request.backend_start), "::timestamptz");
  Refusal refusal = CheckMode(config_.mode);
  if (refusal.ok()) refusal = RoleRefusal(IsLeaderLocked(conn), conn, request.role, request.tables);
  if (refusal.ok()) {
    refusal =
        CheckRateLimit(request.role, audit_->RolesActedOnSince(clock_->Now() - absl::Hours(1)),
                       config_.max_roles_per_hour);
  }
  if (!refusal.ok()) {
    rec.result = refusal.failed() ? ActionResult::kFailed : ActionResult::kRefused;
    rec.reason = refusal.reason;
  } else if (config_.mode != RemediationMode::kEnforce) {
    rec.result = ActionResult::kDryRun;
    rec.reason = "dry-run: not executed";
  } else {
    absl::StatusOr<pg::Result> r = conn.Execute(rec.sql, config_.statement_timeout);
    if (!r.ok()) {
      rec.result = ActionResult::kFailed;
      rec.reason = std::string(r.status().message());
    } else if (r->empty()) {
      rec.result = ActionResult::kDone;
      rec.reason = "backend already gone";
    } else if ((*r)[0].Bool(0)) {
      rec.result = ActionResult::kDone;
    } else {
      rec.result = ActionResult::kFailed;
      rec.reason = "the server refused to signal the backend";
    }
  }
  if (!request.tables.empty()) {
    rec.schema = request.tables.front().schema;
    rec.table = request.tables.front().table;
  }
  return Finish(request.incident_id, request.target, std::move(rec));
}

ActionRecord Remediator::Finish(const std::string& incident, const std::string& target,
                                ActionRecord rec) {
  AuditRecord a;
  a.time = clock_->Now();
  a.incident = incident;
  a.target = target;
  a.mode = config_.mode;
  a.action = rec.action;
  a.role = rec.role;
  a.schema = rec.schema;
  a.table = rec.table;
  a.result = rec.result;
  a.reason = rec.reason;
  a.sql = rec.sql;
  a.undo_sql = rec.undo_sql;
  a.details = rec.details;
  if (absl::Status s = audit_->Append(&a); !s.ok()) {
    PGW_LOG(Error) << "remediation audit write failed: " << s;
    degraded_->Count(target, kDegradedAudit);
    rec.reason = absl::StrCat(rec.reason, rec.reason.empty() ? "" : "; ",
                              "AUDIT WRITE FAILED: ", s.message());
  } else {
    rec.id = a.id;
  }
  {
    absl::MutexLock lock(&status_mu_);
    recent_.push_back(rec);
    while (recent_.size() > kRecentRecords) recent_.pop_front();
  }
  if (family_ != nullptr) {
    prometheus::Labels labels = {{"action", ActionKindName(rec.action)},
                                 {"result", ActionResultName(rec.result)}};
    // The target is a per-series label unless the caller made it constant.
    if (family_->GetConstantLabels().count("target") == 0) labels.merge(TargetLabels(target));
    try {
      family_->Add(labels).Increment();
    } catch (const std::exception& e) {
      PGW_LOG(Error) << "pgwarden_remediation_actions_total: " << e.what();
    }
  }
  const LogLevel level = LevelFor(rec.result);
  if (LogEnabled(level)) {
    internal::LogMessage(level, __FILE__, __LINE__).stream()
        << "remediation " << ActionKindName(rec.action) << " role=\"" << rec.role << "\" "
        << ActionResultName(rec.result) << (rec.reason.empty() ? "" : ": ") << rec.reason
        << (rec.sql.empty() ? "" : " sql: ") << rec.sql;
  }
  return rec;
}

}  // namespace pgwarden
