#include "agent/incidents.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

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

// Hex FNV-1a, for keys too long for PagerDuty's 255-character dedup_key.
std::string Fnv1a(const std::string& s) {
  uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

nlohmann::json IncidentJson(const Incident& inc) {
  nlohmann::json j = {
      {"id", inc.id},
      {"dedup_key", inc.dedup_key},
      {"target", inc.target},
      {"object", inc.object},
      {"kind", inc.kind},
      {"kinds", inc.kinds},
      {"severity", SeverityName(inc.severity)},
      {"open", inc.open},
      {"opened", absl::FormatTime(absl::RFC3339_sec, inc.opened, absl::UTCTimeZone())},
      {"last_fired", absl::FormatTime(absl::RFC3339_sec, inc.last_fired, absl::UTCTimeZone())},
      {"summary", inc.summary},
      {"details", inc.details}};
  if (!inc.open) {
    j["resolved"] = absl::FormatTime(absl::RFC3339_sec, inc.resolved_at, absl::UTCTimeZone());
  }
  return j;
}

// StateJson is what state_file keeps of an open incident.
nlohmann::json StateJson(const Incident& inc) {
  return {{"id", inc.id},
          {"dedup_key", inc.dedup_key},
          {"target", inc.target},
          {"schema", inc.schema},
          {"table", inc.table},
          {"object", inc.object},
          {"kind", inc.kind},
          {"kinds", inc.kinds},
          {"severity", SeverityName(inc.severity)},
          {"opened_unix_ms", absl::ToUnixMillis(inc.opened)},
          {"last_fired_unix_ms", absl::ToUnixMillis(inc.last_fired)},
          {"events", inc.events},
          {"summary", inc.summary},
          {"details", inc.details}};
}

Incident FromStateJson(const nlohmann::json& j) {
  Incident inc;
  inc.id = j.at("id").get<int64_t>();
  inc.dedup_key = j.at("dedup_key").get<std::string>();
  inc.target = j.at("target").get<std::string>();
  inc.schema = j.at("schema").get<std::string>();
  inc.table = j.at("table").get<std::string>();
  inc.object = j.at("object").get<std::string>();
  inc.kind = j.at("kind").get<std::string>();
  inc.kinds = j.at("kinds").get<std::set<std::string>>();
  if (!SeverityFromName(j.at("severity").get<std::string>(), &inc.severity)) {
    throw std::runtime_error(absl::StrCat("unknown severity ", j.at("severity").dump()));
  }
  inc.opened = absl::FromUnixMillis(j.at("opened_unix_ms").get<int64_t>());
  inc.last_fired = absl::FromUnixMillis(j.at("last_fired_unix_ms").get<int64_t>());
  inc.events = j.at("events").get<int64_t>();
  inc.summary = j.at("summary").get<std::string>();
  inc.details = j.at("details");
  return inc;
}

}  // namespace

std::string DedupKey(const std::string& environment, const std::string& target,
                     const std::string& object) {
  std::string key = absl::StrCat("pgwarden/", environment, "/", target, "/", object);
  if (key.size() > 200) key = absl::StrCat(key.substr(0, 180), "~", Fnv1a(key));
  return key;
}

IncidentManager::IncidentManager(IncidentManagerOptions options, Notifier* notifier)
    : options_(std::move(options)), notifier_(notifier) {}

absl::Status IncidentManager::Restore() {
  if (options_.state_file.empty()) return absl::OkStatus();
  std::ifstream in(options_.state_file);
  if (!in) return absl::OkStatus();  // first start
  std::stringstream text;
  text << in.rdbuf();
  std::vector<Incident> restored;
  int64_t next_id = 1;
  try {
    const nlohmann::json j = nlohmann::json::parse(text.str());
    next_id = j.at("next_id").get<int64_t>();
    for (const nlohmann::json& item : j.at("open")) restored.push_back(FromStateJson(item));
  } catch (const std::exception& e) {
    const std::string aside = options_.state_file + ".bad";
    std::rename(options_.state_file.c_str(), aside.c_str());
    return absl::DataLossError(absl::StrCat("incident state ", options_.state_file,
                                            " unreadable (moved to ", aside, "): ", e.what()));
  }
  std::lock_guard<std::mutex> lock(mu_);
  for (Incident& inc : restored) {
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

void IncidentManager::Persist() {
  if (options_.state_file.empty()) return;
  nlohmann::json open = nlohmann::json::array();
  for (const auto& [k, inc] : open_) open.push_back(StateJson(inc));
  const std::string body = nlohmann::json{{"next_id", next_id_}, {"open", open}}.dump() + "\n";
  const std::string tmp = options_.state_file + ".tmp";
  std::string error;
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    error = absl::StrCat("cannot write ", tmp, ": ", std::strerror(errno));
  } else {
    size_t done = 0;
    while (done < body.size()) {
      const ssize_t n = ::write(fd, body.data() + done, body.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      done += static_cast<size_t>(n);
    }
    const bool ok = done == body.size() && ::fsync(fd) == 0;
    ::close(fd);
    if (!ok || std::rename(tmp.c_str(), options_.state_file.c_str()) != 0) {
      error = absl::StrCat("cannot write ", options_.state_file, ": ", std::strerror(errno));
    }
  }
  if (!error.empty() && error != persist_error_) PGW_LOG(Error) << "incidents: " << error;
  persist_error_ = error;
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
  a.kind = inc.kind;
  a.incident_id = inc.id;
  a.timestamp = action == AlertAction::kTrigger ? inc.last_fired : inc.resolved_at;
  a.summary =
      action == AlertAction::kTrigger
          ? absl::StrCat("[", options_.environment, "] ", inc.target, ": ", inc.summary)
          : absl::StrCat("[", options_.environment, "] ", inc.target, ": resolved: ", inc.summary);
  a.details = inc.details;
  a.details["incident_id"] = inc.id;
  a.details["kinds"] = inc.kinds;
  a.details["opened"] = absl::FormatTime(absl::RFC3339_sec, inc.opened, absl::UTCTimeZone());
  return a;
}

std::vector<Incident> IncidentManager::Observe(const std::string& target,
                                               const std::vector<SignalEvent>& events) {
  std::vector<Alert> alerts;
  std::map<int64_t, Incident> touched;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const SignalEvent& ev : events) {
      const std::string object =
          ev.table.empty() ? std::string("database") : absl::StrCat(ev.schema, ".", ev.table);
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
      inc.details[ev.kind] = ev.figures;
      touched[inc.id] = inc;
      if (page) {
        alerts.push_back(MakeAlert(inc, AlertAction::kTrigger));
      }
    }
    if (!touched.empty()) Persist();
  }
  for (const Alert& a : alerts) {
    if (notifier_) notifier_->Notify(a);
  }
  std::vector<Incident> out;
  for (auto& [id, inc] : touched) out.push_back(std::move(inc));
  return out;
}

void IncidentManager::Annotate(int64_t id, const std::string& key, const nlohmann::json& details,
                               const std::string& summary_suffix) {
  std::vector<Alert> alerts;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [k, inc] : open_) {
      if (inc.id != id) continue;
      inc.details[key] = details;
      if (!summary_suffix.empty() && inc.summary.find(summary_suffix) == std::string::npos) {
        inc.summary = absl::StrCat(inc.summary, "; ", summary_suffix);
      }
      alerts.push_back(MakeAlert(inc, AlertAction::kTrigger));
    }
    if (!alerts.empty()) Persist();
  }
  for (const Alert& a : alerts) {
    if (notifier_) notifier_->Notify(a);
  }
}

void IncidentManager::Tick(absl::Time now) {
  std::vector<Alert> alerts;
  {
    std::lock_guard<std::mutex> lock(mu_);
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
      alerts.push_back(MakeAlert(inc, AlertAction::kResolve));
      if (metrics_hook_) metrics_hook_(inc.target, inc.kind, false, -1);
      history_.push_back(std::move(inc));
      if (history_.size() > options_.history) history_.erase(history_.begin());
      it = open_.erase(it);
    }
    if (!alerts.empty()) Persist();
  }
  for (const Alert& a : alerts) {
    if (notifier_) notifier_->Notify(a);
  }
}

std::vector<Incident> IncidentManager::Open() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<Incident> out;
  for (const auto& [k, inc] : open_) out.push_back(inc);
  return out;
}

nlohmann::json IncidentManager::StatusJson() const {
  std::lock_guard<std::mutex> lock(mu_);
  nlohmann::json open = nlohmann::json::array();
  for (const auto& [k, inc] : open_) open.push_back(IncidentJson(inc));
  nlohmann::json resolved = nlohmann::json::array();
  for (auto it = history_.rbegin(); it != history_.rend(); ++it)
    resolved.push_back(IncidentJson(*it));
  return {{"open", open}, {"resolved", resolved}};
}

}  // namespace pgwarden
