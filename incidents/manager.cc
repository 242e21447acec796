#include "incidents/manager.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/log.h"
#include "incidents/grouping.h"

namespace pgwarden {
namespace {

int Rank(Severity s) {
  switch (s) {
    case Severity::kCritical:
      return 3;
    case Severity::kError:
      return 2;
    case Severity::kWarning:
      return 1;
    case Severity::kInfo:
      return 0;
  }
  return 0;
}

}  // namespace

IncidentManager::IncidentManager(IncidentManagerOptions options, Notifier* notifier)
    : options_(std::move(options)), notifier_(notifier) {
  if (!options_.state_file.empty()) store_ = std::make_unique<IncidentStore>(options_.state_file);
}

absl::Status IncidentManager::Restore() {
  if (!store_) return absl::OkStatus();
  absl::StatusOr<IncidentState> state = store_->Load();
  if (!state.ok()) return state.status();
  absl::MutexLock lock(&mu_);
  int64_t next_id = state->next_id;
  for (Incident& inc : state->open) {
    next_id = std::max(next_id, inc.id + 1);
    if (metrics_hook_) metrics_hook_(inc.target, inc.kind, false, +1);
    PGW_LOG(Info) << "incident " << inc.id << " on " << inc.target << " " << inc.object
                  << " still open from before the restart";
    const std::string key = inc.dedup_key;
    open_.emplace(key, std::move(inc));
  }
  for (Incident& inc : state->resolved) {
    next_id = std::max(next_id, inc.id + 1);
    history_.push_back(std::move(inc));
  }
  next_id_ = std::max(next_id_, next_id);
  return absl::OkStatus();
}

void IncidentManager::Touch(Changes* changes) {
  if (!store_) return;
  std::vector<const Incident*> open;
  open.reserve(open_.size());
  for (const auto& [k, inc] : open_) open.push_back(&inc);
  std::vector<const Incident*> resolved;
  resolved.reserve(history_.size());
  for (const Incident& inc : history_) resolved.push_back(&inc);
  changes->state = IncidentStore::Encode(next_id_, open, resolved);
  changes->state_version = ++state_version_;
}

void IncidentManager::Apply(const Changes& changes) {
  if (changes.state_version > 0) {
    absl::MutexLock lock(&persist_mu_);
    if (changes.state_version > written_version_) {
      absl::Status s = store_->Write(changes.state);
      written_version_ = changes.state_version;
      const std::string error = s.ok() ? "" : std::string(s.message());
      if (!s.ok()) degraded_->Count("", kDegradedStatePersist);
      if (!error.empty() && error != persist_error_) PGW_LOG(Error) << "incidents: " << error;
      persist_error_ = error;
    }
  }
  for (const Alert& a : changes.alerts) {
    if (notifier_) notifier_->Notify(a);
  }
}

Alert IncidentManager::MakeAlert(const Incident& inc, AlertAction action) const {
  Alert a;
  a.action = action;
  a.dedup_key = inc.dedup_key;
  a.severity = inc.severity;
  a.environment = options_.environment;
  a.source = options_.source;
  a.target = inc.target;
  a.object = inc.object;
  a.role = inc.role;
  a.kind = SignalKindName(inc.kind);
  a.incident_id = inc.id;
  a.timestamp = action == AlertAction::kTrigger ? inc.last_fired : inc.resolved_at;
  std::string summary = GroupSummary(inc);
  if (summary.empty()) summary = inc.summary;
  if (!inc.note.empty()) absl::StrAppend(&summary, "; ", inc.note);
  if (inc.details.contains("aftermath")) {
    std::vector<std::string> after;
    for (const auto& [kind, f] : inc.details["aftermath"].items()) after.push_back(kind);
    absl::StrAppend(&summary, "; followed by ", absl::StrJoin(after, ", "));
  }
  a.summary = absl::StrCat("[", options_.environment, "] ", inc.target, ": ",
                           action == AlertAction::kTrigger ? "" : "resolved: ", summary);
  a.details = inc.details;
  a.details["incident_id"] = inc.id;
  a.details["kinds"] = KindNames(inc.kinds);
  a.details["opened"] = absl::FormatTime(absl::RFC3339_sec, inc.opened, absl::UTCTimeZone());
  if (!inc.role.empty()) a.details["culprit"] = inc.role;
  a.details["tables"] = TablesJson(inc);
  return a;
}

Incident* IncidentManager::AftermathHost(const std::string& target, absl::Time t) {
  Incident* host = nullptr;
  for (auto& [k, inc] : open_) {
    if (inc.target != target || inc.last_destructive == absl::InfinitePast()) continue;
    if (host == nullptr || inc.last_destructive > host->last_destructive) host = &inc;
  }
  if (host != nullptr) return host;
  // The newest resolved destructive incident still within the window reopens.
  for (auto it = history_.rbegin(); it != history_.rend(); ++it) {
    if (it->target != target || it->last_destructive == absl::InfinitePast()) continue;
    if (it->details.contains("joined_incident")) continue;  // lives on in another incident
    if (t - it->last_destructive > options_.aftermath_window) continue;
    if (open_.count(it->dedup_key) > 0) continue;  // its key is taken by a newer incident
    Incident inc = std::move(*it);
    history_.erase(std::next(it).base());
    inc.open = true;
    inc.resolved_at = absl::InfinitePast();
    if (metrics_hook_) metrics_hook_(inc.target, inc.kind, false, +1);
    PGW_LOG(Warning) << "incident " << inc.id << " on " << target << " " << inc.object
                     << " reopened by what followed it";
    const std::string key = inc.dedup_key;
    return &open_.emplace(key, std::move(inc)).first->second;
  }
  return nullptr;
}

Incident* IncidentManager::Find(const std::string& target, const SignalEvent& ev, TickState* tick) {
  const std::string object = ObjectOf(ev);
  const std::string role = CulpritOf(ev);
  Incident* by_role = nullptr;       // the culprit's open incident
  Incident* by_object = nullptr;     // the newest open incident holding the object
  Incident* unattributed = nullptr;  // an open incident of the object with no culprit yet
  for (auto& [k, inc] : open_) {
    if (inc.target != target) continue;
    if (!role.empty() && inc.role == role) by_role = &inc;
    if (inc.members.count(object) == 0) continue;
    if (inc.role.empty()) unattributed = &inc;
    if (by_object == nullptr || inc.last_fired > by_object->last_fired) by_object = &inc;
  }
  if (!role.empty()) {
    if (by_role == nullptr && unattributed != nullptr) {
      unattributed->role = role;  // attribution named the culprit: its incident now
      PGW_LOG(Warning) << "incident " << unattributed->id << " on " << target << ": by role "
                       << role;
      return unattributed;
    }
    if (by_role != nullptr && unattributed != nullptr) {
      Absorb(unattributed->dedup_key, by_role, ev.time, tick->changes);
    }
    return by_role;
  }
  if (IsAftermath(ev.kind)) {
    if (Incident* host = AftermathHost(target, ev.time)) return host;
  }
  if (by_object != nullptr) return by_object;
  const bool batch = ev.kind == SignalKind::kTruncate || ev.kind == SignalKind::kDropTable;
  if (batch && !tick->batch_key.empty()) {
    auto it = open_.find(tick->batch_key);
    if (it != open_.end()) return &it->second;
  }
  return nullptr;
}

Incident* IncidentManager::OpenIncident(const std::string& target, const SignalEvent& ev,
                                        const std::string& role) {
  const std::string object = ObjectOf(ev);
  std::string key = DedupKey(options_.environment, target, object);
  // Another culprit's incident already holds the object under its key.
  if (open_.count(key) > 0) key = DedupKey(options_.environment, target, object + " by " + role);
  // Then the first free "OBJECT by ROLE #N": never the agent-local incident
  // number, so that every agent watching the database derives the same key.
  for (int n = 2; open_.count(key) > 0; ++n) {
    key = DedupKey(options_.environment, target, absl::StrCat(object, " by ", role, " #", n));
  }
  Incident inc;
  inc.id = next_id_++;
  inc.dedup_key = key;
  inc.target = target;
  inc.schema = ev.schema;
  inc.table = ev.table;
  inc.object = object;
  inc.role = role;
  inc.kind = ev.kind;
  inc.opened = ev.time;
  if (metrics_hook_) metrics_hook_(target, ev.kind, true, +1);
  PGW_LOG(Warning) << "incident " << inc.id << " opened on " << target << " " << object << ": "
                   << ev.description;
  return &open_.emplace(key, std::move(inc)).first->second;
}

void IncidentManager::Absorb(const std::string& from_key, Incident* into, absl::Time now,
                             Changes* changes) {
  auto it = open_.find(from_key);
  if (it == open_.end() || &it->second == into) return;
  Incident& from = it->second;
  for (auto& [object, m] : from.members) {
    auto [dst, added] = into->members.try_emplace(object, m);
    if (added) continue;
    dst->second.kinds.insert(m.kinds.begin(), m.kinds.end());
    if (m.rows_before > dst->second.rows_before) dst->second.rows_before = m.rows_before;
    if (m.last_fired > dst->second.last_fired) {
      dst->second.rows_now = m.rows_now;
      dst->second.last_fired = m.last_fired;
    }
  }
  into->kinds.insert(from.kinds.begin(), from.kinds.end());
  for (const auto& [kind, figures] : from.details.items()) {
    if (kind == "recovery" && figures.contains("by_table")) {
      for (const auto& [obj, p] : figures["by_table"].items()) MergeRecovery(obj, p, into);
    } else if (!into->details.contains(kind)) {
      into->details[kind] = figures;
    }
  }
  into->last_destructive = std::max(into->last_destructive, from.last_destructive);
  into->events += from.events;
  from.summary =
      absl::StrCat(from.summary, "; joined incident ", into->id, " (role ", into->role, ")");
  from.details["joined_incident"] = into->id;
  PGW_LOG(Warning) << "incident " << from.id << " joined incident " << into->id << " (role "
                   << into->role << ")";
  Retire(&from, now, changes);
  open_.erase(it);
}

void IncidentManager::Page(Incident* inc, absl::Time now, Changes* changes) {
  if (inc->last_sent != absl::InfinitePast() && now - inc->last_sent < options_.update_interval) {
    inc->update_due = true;
    return;
  }
  inc->last_sent = now;
  inc->update_due = false;
  changes->alerts.push_back(MakeAlert(*inc, AlertAction::kTrigger));
}

void IncidentManager::Retire(Incident* inc, absl::Time now, Changes* changes) {
  inc->open = false;
  inc->resolved_at = now;
  inc->update_due = false;
  changes->alerts.push_back(MakeAlert(*inc, AlertAction::kResolve));
  if (metrics_hook_) metrics_hook_(inc->target, inc->kind, false, -1);
  history_.push_back(std::move(*inc));
  if (history_.size() > options_.history) history_.erase(history_.begin());
}

void IncidentManager::Merge(const std::string& target, const SignalEvent& ev, TickState* tick) {
  Incident* inc = Find(target, ev, tick);
  bool page = false;
  if (inc == nullptr) {
    inc = OpenIncident(target, ev, CulpritOf(ev));
    page = true;
    if (ev.kind == SignalKind::kTruncate || ev.kind == SignalKind::kDropTable) {
      if (tick->batch_key.empty()) tick->batch_key = inc->dedup_key;
    }
  }
  const std::string object = ObjectOf(ev);
  if (inc->members.count(object) == 0 && !inc->members.empty()) {
    page = true;  // another object joined
    PGW_LOG(Warning) << "incident " << inc->id << " on " << target << ": " << ev.description;
  }
  inc->last_fired = std::max(inc->last_fired, ev.time);
  if (IsDestructive(ev.kind)) inc->last_destructive = ev.time;
  ++inc->events;
  if (inc->kinds.insert(ev.kind).second && !page) {
    page = true;  // a new kind joined: re-send the page with it
    PGW_LOG(Warning) << "incident " << inc->id << " on " << object << ": " << ev.description;
  }
  const bool aftermath = IsAftermath(ev.kind) && inc->last_destructive != absl::InfinitePast();
  if (aftermath) {
    inc->details["aftermath"][SignalKindName(ev.kind)] = ev.figures;
  } else if (page || Rank(ev.severity) >= Rank(inc->severity)) {
    inc->summary = ev.description;
  }
  if (Rank(ev.severity) > Rank(inc->severity)) {
    inc->severity = ev.severity;
    page = true;
  }
  const auto before = inc->members.find(object);
  const int64_t lost_before = before == inc->members.end() ? 0 : before->second.RowsLost();
  AddMember(ev, inc);
  // More rows lost: the page's figures are updated (at most once per interval).
  if (inc->members.at(object).RowsLost() > lost_before) page = true;
  if (ev.figures.contains("recovery")) MergeRecovery(object, ev.figures["recovery"], inc);
  if (!aftermath) {
    nlohmann::json& figures = inc->details[SignalKindName(ev.kind)] = ev.figures;
    figures.erase("recovery");  // kept once, in details["recovery"]
  }
  // A partitioned table's incident keeps each partition's latest figures.
  if (ev.figures.contains("partition") && ev.figures["partition"].is_string()) {
    inc->details["partitions"][ev.figures["partition"].get<std::string>()]
                [SignalKindName(ev.kind)] = ev.figures;
  }
  if (page) tick->to_page[inc->id] = inc->dedup_key;
}

std::vector<Incident> IncidentManager::Observe(const std::string& target,
                                               const std::vector<SignalEvent>& events) {
  Changes changes;
  std::map<int64_t, Incident> touched;
  {
    absl::MutexLock lock(&mu_);
    // Pages are built once every event of the tick is in (a statement that
    // hits 24 partitions is one page listing them).
    TickState tick;
    tick.changes = &changes;
    absl::Time now = absl::InfinitePast();
    for (const SignalEvent& ev : events) {
      Merge(target, ev, &tick);
      now = std::max(now, ev.time);
    }
    for (const SignalEvent& ev : events) {
      for (auto& [k, inc] : open_) {
        if (inc.target == target && inc.members.count(ObjectOf(ev)) > 0) touched[inc.id] = inc;
      }
    }
    for (const auto& [id, key] : tick.to_page) {
      auto it = open_.find(key);
      if (it == open_.end()) continue;  // absorbed by its culprit's incident meanwhile
      Page(&it->second, now, &changes);
      touched[id] = it->second;
    }
    if (!touched.empty() || !changes.alerts.empty()) Touch(&changes);
  }
  Apply(changes);
  std::vector<Incident> out;
  out.reserve(touched.size());
  for (auto& [id, inc] : touched) out.push_back(std::move(inc));
  return out;
}

void IncidentManager::Annotate(int64_t id, const std::string& key, const nlohmann::json& details,
                               const std::string& summary_suffix, absl::Time now) {
  Changes changes;
  {
    absl::MutexLock lock(&mu_);
    bool found = false;
    for (auto& [k, inc] : open_) {
      if (inc.id != id) continue;
      found = true;
      inc.details[key] = details;
      if (!summary_suffix.empty() && inc.note.find(summary_suffix) == std::string::npos) {
        inc.note = inc.note.empty() ? summary_suffix : absl::StrCat(inc.note, "; ", summary_suffix);
      }
      Page(&inc, now, &changes);
    }
    if (found) Touch(&changes);
  }
  Apply(changes);
}

void IncidentManager::Tick(absl::Time now) {
  Changes changes;
  bool changed = false;
  {
    absl::MutexLock lock(&mu_);
    for (auto it = open_.begin(); it != open_.end();) {
      Incident& inc = it->second;
      if (now - inc.last_fired < options_.resolve_after) {
        if (inc.update_due) Page(&inc, now, &changes);
        ++it;
        continue;
      }
      PGW_LOG(Info) << "incident " << inc.id << " on " << inc.target << " " << inc.object
                    << " resolved (quiet for " << absl::FormatDuration(options_.resolve_after)
                    << ")";
      Retire(&inc, now, &changes);
      it = open_.erase(it);
      changed = true;
    }
    if (changed) Touch(&changes);
  }
  Apply(changes);
}

std::vector<Incident> IncidentManager::Open() const {
  absl::MutexLock lock(&mu_);
  std::vector<Incident> out;
  for (const auto& [k, inc] : open_) out.push_back(inc);
  return out;
}

std::vector<RecentTable> IncidentManager::RecentTables(const std::string& target,
                                                       absl::Time since) const {
  absl::MutexLock lock(&mu_);
  std::vector<RecentTable> out;
  auto add = [&](const Incident& inc) {
    if (inc.target != target) return;
    for (const auto& [object, m] : inc.members) {
      if (!m.table.empty()) out.push_back(RecentTable{object, m.rows_before, inc.opened});
    }
  };
  for (const auto& [k, inc] : open_) add(inc);
  for (const Incident& inc : history_) {
    if (inc.resolved_at >= since) add(inc);
  }
  return out;
}

nlohmann::json IncidentManager::StatusJson() const {
  absl::MutexLock lock(&mu_);
  nlohmann::json open = nlohmann::json::array();
  for (const auto& [k, inc] : open_) open.push_back(pgwarden::StatusJson(inc));
  nlohmann::json resolved = nlohmann::json::array();
  for (auto it = history_.rbegin(); it != history_.rend(); ++it) {
    resolved.push_back(pgwarden::StatusJson(*it));
  }
  return {{"open", open}, {"resolved", resolved}};
}

}  // namespace pgwarden
