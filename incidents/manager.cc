#include "incidents/manager.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "core/log.h"

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
  next_id_ = std::max(next_id_, next_id);
  return absl::OkStatus();
}

void IncidentManager::Touch(Changes* changes) {
  if (!store_) return;
  std::vector<const Incident*> open;
  open.reserve(open_.size());
  for (const auto& [k, inc] : open_) open.push_back(&inc);
  changes->state = IncidentStore::Encode(next_id_, open);
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
  a.kind = SignalKindName(inc.kind);
  a.incident_id = inc.id;
  a.timestamp = action == AlertAction::kTrigger ? inc.last_fired : inc.resolved_at;
  a.summary =
      action == AlertAction::kTrigger
          ? absl::StrCat("[", options_.environment, "] ", inc.target, ": ", inc.summary)
          : absl::StrCat("[", options_.environment, "] ", inc.target, ": resolved: ", inc.summary);
  a.details = inc.details;
  a.details["incident_id"] = inc.id;
  a.details["kinds"] = KindNames(inc.kinds);
  a.details["opened"] = absl::FormatTime(absl::RFC3339_sec, inc.opened, absl::UTCTimeZone());
  return a;
}

void IncidentManager::Merge(const std::string& target, const SignalEvent& ev,
                            std::map<int64_t, Incident>* touched,
                            std::map<int64_t, std::string>* to_page) {
  // A schema-wide event (DROP SCHEMA) is its own object, not the database's.
  const std::string object = !ev.table.empty()   ? absl::StrCat(ev.schema, ".", ev.table)
                             : ev.schema.empty() ? std::string("database")
                                                 : absl::StrCat("schema ", ev.schema);
  const std::string key = DedupKey(options_.environment, target, object);
  auto it = open_.find(key);
  bool page = false;
  if (it == open_.end()) {
    Incident inc;
    inc.id = next_id_++;
    inc.dedup_key = key;
    inc.target = target;
    inc.schema = ev.schema;
    inc.table = ev.table;
    inc.object = object;
    inc.kind = ev.kind;
    inc.opened = ev.time;
    it = open_.emplace(key, std::move(inc)).first;
    page = true;
    if (metrics_hook_) metrics_hook_(target, ev.kind, true, +1);
    PGW_LOG(Warning) << "incident " << it->second.id << " opened on " << target << " " << object
                     << ": " << ev.description;
  }
  Incident& inc = it->second;
  inc.last_fired = ev.time;
  ++inc.events;
  if (inc.kinds.insert(ev.kind).second && !page) {
    page = true;  // a new kind joined: re-send the page with it
    PGW_LOG(Warning) << "incident " << inc.id << " on " << object << ": " << ev.description;
  }
  if (page || Rank(ev.severity) >= Rank(inc.severity)) inc.summary = ev.description;
  if (Rank(ev.severity) > Rank(inc.severity)) {
    inc.severity = ev.severity;
    page = true;
  }
  inc.details[SignalKindName(ev.kind)] = ev.figures;
  // A partitioned table's incident keeps each partition's latest figures.
  if (ev.figures.contains("partition") && ev.figures["partition"].is_string()) {
    inc.details["partitions"][ev.figures["partition"].get<std::string>()][SignalKindName(ev.kind)] =
        ev.figures;
  }
  (*touched)[inc.id] = inc;
  if (page) (*to_page)[inc.id] = key;
}

std::vector<Incident> IncidentManager::Observe(const std::string& target,
                                               const std::vector<SignalEvent>& events) {
  Changes changes;
  std::map<int64_t, Incident> touched;
  {
    absl::MutexLock lock(&mu_);
    // Pages are built once every event of the tick is in (a statement that
    // hits 24 partitions is one page listing them).
    std::map<int64_t, std::string> to_page;  // incident id -> dedup key
    for (const SignalEvent& ev : events) Merge(target, ev, &touched, &to_page);
    for (const auto& [id, key] : to_page) {
      changes.alerts.push_back(MakeAlert(open_.at(key), AlertAction::kTrigger));
      touched[id] = open_.at(key);
    }
    if (!touched.empty()) Touch(&changes);
  }
  Apply(changes);
  std::vector<Incident> out;
  out.reserve(touched.size());
  for (auto& [id, inc] : touched) out.push_back(std::move(inc));
  return out;
}

void IncidentManager::Annotate(int64_t id, const std::string& key, const nlohmann::json& details,
                               const std::string& summary_suffix) {
  Changes changes;
  {
    absl::MutexLock lock(&mu_);
    for (auto& [k, inc] : open_) {
      if (inc.id != id) continue;
      inc.details[key] = details;
      if (!summary_suffix.empty() && inc.summary.find(summary_suffix) == std::string::npos) {
        inc.summary = absl::StrCat(inc.summary, "; ", summary_suffix);
      }
      changes.alerts.push_back(MakeAlert(inc, AlertAction::kTrigger));
    }
    if (!changes.alerts.empty()) Touch(&changes);
  }
  Apply(changes);
}

void IncidentManager::Tick(absl::Time now) {
  Changes changes;
  {
    absl::MutexLock lock(&mu_);
    for (auto it = open_.begin(); it != open_.end();) {
      Incident& inc = it->second;
      if (now - inc.last_fired < options_.resolve_after) {
        ++it;
        continue;
      }
      inc.open = false;
      inc.resolved_at = now;
      PGW_LOG(Info) << "incident " << inc.id << " on " << inc.target << " " << inc.object
                    << " resolved (quiet for " << absl::FormatDuration(options_.resolve_after)
                    << ")";
      changes.alerts.push_back(MakeAlert(inc, AlertAction::kResolve));
      if (metrics_hook_) metrics_hook_(inc.target, inc.kind, false, -1);
      history_.push_back(std::move(inc));
      if (history_.size() > options_.history) history_.erase(history_.begin());
      it = open_.erase(it);
    }
    if (!changes.alerts.empty()) Touch(&changes);
  }
  Apply(changes);
}

std::vector<Incident> IncidentManager::Open() const {
  absl::MutexLock lock(&mu_);
  std::vector<Incident> out;
  for (const auto& [k, inc] : open_) out.push_back(inc);
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
