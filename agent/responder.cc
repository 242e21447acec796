#include "agent/responder.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "agent/reload.h"
#include "core/log.h"
#include "pg/connect.h"
#include "remediation/commit_evidence.h"

namespace pgwarden {
namespace {

SignalKind SignalKindOf(FindingKind kind) {
  switch (kind) {
    case FindingKind::kDestructiveInFlight:
      return SignalKind::kDestructiveInFlight;
    case FindingKind::kIdleInTransaction:
      return SignalKind::kIdleInTransaction;
    case FindingKind::kLongStatement:
      return SignalKind::kLongStatement;
    case FindingKind::kBlocking:
      return SignalKind::kBlocking;
    case FindingKind::kDestructiveDdl:
      return SignalKind::kDestructiveDdl;
  }
  return SignalKind::kDestructiveInFlight;
}

// Attributed is true for the kinds whose culprits attribution names: rows
// removed, and rows overwritten (update_spike).
bool Attributed(SignalKind kind) { return RemovesRows(kind) || kind == SignalKind::kUpdateSpike; }

// CacheKey is where a table's attribution is kept: one for rows removed,
// one for rows updated (an UPDATE counts for the one, not for the other).
std::string CacheKey(const std::string& object, bool updates) {
  return updates ? absl::StrCat(object, " (updates)") : object;
}

int64_t RowsDropped(const SignalEvent& ev) {
  const nlohmann::json& f = ev.figures;
  if (f.contains("updated_in_burst")) return f["updated_in_burst"].get<int64_t>();
  if (f.contains("rows_lost")) return f["rows_lost"].get<int64_t>();
  if (f.contains("rows_before") && f.contains("rows_now")) {
    return f["rows_before"].get<int64_t>() - f["rows_now"].get<int64_t>();
  }
  if (f.contains("deleted_in_interval")) return f["deleted_in_interval"].get<int64_t>();
  return 0;
}

}  // namespace

Responder::Responder(const LiveConfig& config, const TargetConfig& target,
                     prometheus::Registry* registry, const prometheus::Labels& const_labels,
                     IncidentManager* incidents, Clock* clock, Degraded* degraded)
    : config_(config),
      target_(target),
      registry_(registry),
      const_labels_(const_labels),
      incidents_(incidents),
      clock_(clock),
      degraded_(degraded != nullptr ? degraded : NoDegraded::Get()),
      attributor_(clock),
      seen_(config.get()) {}

Responder::~Responder() {
  guard_.reset();
  remediator_.reset();
  conn_.reset();
}

void Responder::Observe(pg::Session& conn) {
  absl::Status s = attributor_.Observe(conn);
  if (!s.ok()) PGW_LOG(Debug) << "target " << target_.name << ": attribution baseline: " << s;
}

void Responder::Enrich(pg::Session& conn, std::vector<SignalEvent>* events,
                       std::vector<std::pair<SignalEvent, std::string>>* suppressed) {
  std::vector<SignalEvent> kept;
  for (SignalEvent& ev : *events) {
    if (ev.table.empty() || !Attributed(ev.kind)) {
      kept.push_back(std::move(ev));
      continue;
    }
    const bool updates = ev.kind == SignalKind::kUpdateSpike;
    const std::string key = CacheKey(absl::StrCat(ev.schema, ".", ev.table), updates);
    const absl::Time now = clock_->Now();
    auto it = cache_.find(key);
    if (it == cache_.end() || now - it->second.at > absl::Seconds(2)) {
      AttributionRequest req;
      req.schema = ev.schema;
      req.table = ev.table;
      req.oid = ev.oid;
      req.rows_dropped = std::max<int64_t>(1, RowsDropped(ev));
      req.since = ev.time - absl::Seconds(10);
      req.updates = updates;
      // The same drop (an event within resolve_after of the last one) keeps
      // its window start.
      if (it != cache_.end() && now - it->second.at <= config_->resolve_after) {
        req.since = std::min(req.since, it->second.since);
      }
      absl::StatusOr<Attribution> a = attributor_.Attribute(conn, req);
      if (!a.ok()) {
        PGW_LOG(Warning) << "target " << target_.name << ": cannot attribute " << key << ": "
                         << a.status().message();
        degraded_->Count(target_.name, kDegradedAttribution);
        kept.push_back(std::move(ev));
        continue;
      }
      it = cache_.insert_or_assign(key, Cached{std::move(*a), now, req.since}).first;
    }
    // Commit-time evidence (the change stream's xids, a session committing
    // inside one statement) names culprits the statement counters cannot.
    MergeCommitEvidence(CommitEvidenceFromFigures(ev.figures), &it->second.attribution);
    const Attribution& attr = it->second.attribution;
    ev.figures["attribution"] = attr.ToJson();
    const Culprit* top = attr.Top();
    if (top != nullptr) {
      absl::StrAppend(
          &ev.description, "; by role ", top->role,
          top->application.empty() ? "" : absl::StrCat(" (", top->application, ")"),
          top->client.empty() ? "" : absl::StrCat(" from ", top->client),
          top->pids.empty() ? "" : absl::StrCat(", pids ", absl::StrJoin(top->pids, ",")),
          top->rows_attributed > 0 ? absl::StrCat(", ", FormatCount(top->rows_attributed), " rows")
                                   : "",
          absl::StrFormat(", confidence %.2f", attr.confidence));
      const auto& allowed = config_->maintenance.allowed_roles;
      if (std::find(allowed.begin(), allowed.end(), top->role) != allowed.end() &&
          top->confidence >= config_->remediation.min_confidence) {
        suppressed->emplace_back(std::move(ev), "allowed_role");
        continue;
      }
    }
    kept.push_back(std::move(ev));
  }
  *events = std::move(kept);
}

void Responder::FollowReload() {
  const AgentConfig* now = config_.get();
  if (now == seen_) return;
  const bool changed = ConfigSection(*seen_, "remediation") != ConfigSection(*now, "remediation");
  seen_ = now;
  if (!changed || (!remediator_ && !guard_)) return;
  // The next use rebuilds both with the reloaded section. Actions already
  // taken stay recorded in attempts_ and the audit log (which also holds
  // the hourly role budget).
  guard_.reset();
  remediator_.reset();
  conn_.reset();
  next_connect_ = absl::InfinitePast();
  PGW_LOG(Info) << "target " << target_.name << ": remediation settings reloaded";
}

bool Responder::EnsureRemediator() {
  FollowReload();
  if (remediator_ && conn_ && conn_->IsOpen()) return true;
  const absl::Time now = clock_->Now();
  if (now < next_connect_) return false;
  next_connect_ = now + absl::Seconds(5);
  pg::ConnectOptions options;
  options.application_name = "pgwarden-remediation";
  options.connect_timeout = target_.connect_timeout;
  absl::StatusOr<std::unique_ptr<pg::Session>> session = pg::Connect(target_.dsn, options);
  absl::StatusOr<pg::Result> me = session.ok() ? (*session)->Query("SELECT current_user", {})
                                               : absl::StatusOr<pg::Result>(session.status());
  if (!me.ok() || me->empty()) {
    PGW_LOG(Warning) << "target " << target_.name << ": remediation connection failed: "
                     << (me.ok() ? "no current_user" : me.status().message());
    degraded_->Count(target_.name, kDegradedRemediationConnection);
    conn_.reset();
    return false;
  }
  conn_ = *std::move(session);
  if (!remediator_) {
    absl::StatusOr<std::unique_ptr<Remediator>> r = Remediator::Create(
        config_->remediation, (*me)[0].Text(0), config_->remediation.AuditPath(config_->state_dir),
        registry_, const_labels_, clock_, degraded_);
    if (!r.ok()) {
      PGW_LOG(Error) << "target " << target_.name << ": remediation unavailable: " << r.status();
      degraded_->Count(target_.name, kDegradedRemediationConnection);
      return false;
    }
    remediator_ = std::move(*r);
  }
  return true;
}

void Responder::Respond(const std::vector<Incident>& touched) {
  FollowReload();
  if (config_->remediation.mode == RemediationMode::kOff) return;
  for (const Incident& inc : touched) {
    // Each table of the incident: its rows removed, then its rows overwritten.
    for (const auto& [object, member] : inc.members) {
      if (member.table.empty()) continue;
      for (bool updates : {false, true}) {
        auto cached = cache_.find(CacheKey(object, updates));
        if (cached != cache_.end() && !cached->second.attribution.culprits.empty()) {
          RespondTo(inc, TableRef{member.schema, member.table}, cached->second.attribution);
        }
      }
    }
  }
}

void Responder::RespondTo(const Incident& inc, const TableRef& table, const Attribution& attr) {
  const absl::Time now = clock_->Now();
  RemediationRequest req;
  req.incident_id = absl::StrCat(inc.id);
  req.target = target_.name;
  req.tables = {table};
  req.attribution = attr;
  // Candidates: the top culprit (acted on or refused with a reason) and any
  // other role that removed rows (for an update_spike: updated them) or
  // writes the table right now; for rows removed, a role that only
  // updated rows is evidence, not a suspect.
  req.attribution.culprits.clear();
  bool due = false;
  for (size_t i = 0; i < attr.culprits.size(); ++i) {
    const Culprit& c = attr.culprits[i];
    if (i > 0 && c.rows_attributed == 0 && c.truncates == 0 && !c.in_flight) continue;
    req.attribution.culprits.push_back(c);
    auto a = attempts_.find({inc.id, c.role});
    if (a == attempts_.end() || (!a->second.acted && now - a->second.at >= absl::Seconds(5))) {
      due = true;
    }
  }
  // A standby (another agent holds the advisory lock) asks again at every
  // tick: when the leader dies its lock frees, and this agent's incident for
  // the same rows acts within a tick. Asking costs one pg_try_advisory_lock.
  if (!due && remediator_ && !remediator_->leader()) due = true;
  if (!due || !EnsureRemediator()) return;
  req.rows_dropped = attr.rows_dropped;
  std::vector<ActionRecord> records = remediator_->Act(*conn_, req);
  nlohmann::json actions = nlohmann::json::array();
  std::vector<std::string> done;
  for (const Culprit& c : req.attribution.culprits) attempts_[{inc.id, c.role}].at = now;
  for (const ActionRecord& rec : records) {
    actions.push_back(rec.ToJson());
    if (rec.result == ActionResult::kDone || rec.result == ActionResult::kDryRun) {
      attempts_[{inc.id, rec.role}].acted = true;
      done.push_back(absl::StrCat(
          rec.result == ActionResult::kDryRun ? "would run " : "", ActionKindName(rec.action),
          " on ", rec.role, rec.id > 0 ? absl::StrCat(" (undo: pgwarden undo ", rec.id, ")") : ""));
    }
    PGW_LOG(Warning) << "remediation " << ActionKindName(rec.action) << " " << rec.role << ": "
                     << ActionResultName(rec.result)
                     << (rec.reason.empty() ? "" : absl::StrCat(" (", rec.reason, ")"))
                     << (rec.sql.empty() ? "" : absl::StrCat(": ", rec.sql));
  }
  if (!records.empty()) {
    incidents_->Annotate(inc.id, "remediation", actions, absl::StrJoin(done, ", "), now);
  }
}

void Responder::Guard(pg::Session& sample_conn, const std::vector<TableRef>& watched,
                      absl::Time now, const TargetWatch::Silencer& silencer, WatchResult* out) {
  FollowReload();
  const RemediationConfig& rc = config_->remediation;
  if (!rc.inflight.enabled && !rc.runaway.enabled) return;
  pg::Session* conn = &sample_conn;
  if (rc.mode != RemediationMode::kOff && EnsureRemediator()) {
    // Actions must run on the remediation connection: it holds the advisory
    // lock that makes this agent the one that acts.
    conn = conn_.get();
    if (!guard_) guard_ = std::make_unique<SessionGuard>(rc, remediator_.get(), clock_);
  } else if (!guard_) {
    guard_ = std::make_unique<SessionGuard>(rc, nullptr, clock_);
  }
  absl::StatusOr<std::vector<SessionFinding>> findings =
      guard_->Check(*conn, target_.name, watched, [&](const TableRef& t) {
        return silencer ? silencer(t.schema, t.table, now) : std::string();
      });
  if (!findings.ok()) {
    PGW_LOG(Warning) << "target " << target_.name << ": session guard: " << findings.status();
    degraded_->Count(target_.name, kDegradedSessionGuard);
    return;
  }
  for (const SessionFinding& f : *findings) {
    SignalEvent ev;
    ev.kind = SignalKindOf(f.kind);
    if (f.kind == FindingKind::kDestructiveInFlight || f.kind == FindingKind::kDestructiveDdl) {
      ev.schema = f.table.schema;
      ev.table = f.table.table;
      ev.severity = f.certain ? Severity::kCritical : Severity::kWarning;
    } else {
      ev.severity = Severity::kWarning;
    }
    ev.time = now;
    ev.description = f.Summary();
    ev.figures = f.ToJson();
    for (const ActionRecord& rec : f.actions) {
      PGW_LOG(Warning) << "session guard " << ActionKindName(rec.action) << " pid " << f.session.pid
                       << " (" << rec.role << "): " << ActionResultName(rec.result)
                       << (rec.reason.empty() ? "" : absl::StrCat(" (", rec.reason, ")"));
      if (rec.result == ActionResult::kDone || rec.result == ActionResult::kDryRun) {
        absl::StrAppend(&ev.description,
                        rec.result == ActionResult::kDryRun ? "; would run " : "; ran ",
                        ActionKindName(rec.action));
      }
    }
    if (!f.window.empty()) {
      out->suppressed.emplace_back(std::move(ev), f.window);
    } else {
      out->events.push_back(std::move(ev));
    }
  }
}

}  // namespace pgwarden
