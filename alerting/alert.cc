#include "alerting/alert.h"

#include "absl/strings/str_cat.h"

namespace pgwarden {

const char* SeverityName(Severity s) {
  switch (s) {
    case Severity::kCritical:
      return "critical";
    case Severity::kError:
      return "error";
    case Severity::kWarning:
      return "warning";
    case Severity::kInfo:
      return "info";
  }
  return "critical";
}

bool SeverityFromName(const std::string& name, Severity* out) {
  for (Severity s : {Severity::kCritical, Severity::kError, Severity::kWarning, Severity::kInfo}) {
    if (name == SeverityName(s)) {
      *out = s;
      return true;
    }
  }
  return false;
}

nlohmann::json AlertToJson(const Alert& alert) {
  nlohmann::json links = nlohmann::json::array();
  for (const AlertLink& l : alert.links) links.push_back({{"href", l.href}, {"text", l.text}});
  return nlohmann::json{
      {"action", alert.action == AlertAction::kTrigger ? "trigger" : "resolve"},
      {"dedup_key", alert.dedup_key},
      {"summary", alert.summary},
      {"severity", SeverityName(alert.severity)},
      {"environment", alert.environment},
      {"source", alert.source},
      {"target", alert.target},
      {"object", alert.object},
      {"role", alert.role},
      {"kind", alert.kind},
      {"incident_id", alert.incident_id},
      {"timestamp", absl::FormatTime(absl::RFC3339_full, alert.timestamp, absl::UTCTimeZone())},
      {"details", alert.details},
      {"links", links},
  };
}

namespace {

bool GetStr(const nlohmann::json& j, const char* key, std::string* out, std::string* error) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_string()) {
    *error = absl::StrCat("field '", key, "' missing or not a string");
    return false;
  }
  *out = it->get<std::string>();
  return true;
}

}  // namespace

bool AlertFromJson(const nlohmann::json& j, Alert* out, std::string* error) {
  if (!j.is_object()) {
    *error = "alert is not a JSON object";
    return false;
  }
  Alert a;
  std::string action, severity, timestamp;
  if (!GetStr(j, "action", &action, error) || !GetStr(j, "dedup_key", &a.dedup_key, error) ||
      !GetStr(j, "summary", &a.summary, error) || !GetStr(j, "severity", &severity, error) ||
      !GetStr(j, "environment", &a.environment, error) || !GetStr(j, "source", &a.source, error) ||
      !GetStr(j, "target", &a.target, error) || !GetStr(j, "object", &a.object, error) ||
      !GetStr(j, "kind", &a.kind, error) || !GetStr(j, "timestamp", &timestamp, error)) {
    return false;
  }
  if (action == "trigger") {
    a.action = AlertAction::kTrigger;
  } else if (action == "resolve") {
    a.action = AlertAction::kResolve;
  } else {
    *error = absl::StrCat("unknown action '", action, "'");
    return false;
  }
  if (!SeverityFromName(severity, &a.severity)) {
    *error = absl::StrCat("unknown severity '", severity, "'");
    return false;
  }
  std::string parse_error;
  if (!absl::ParseTime(absl::RFC3339_full, timestamp, &a.timestamp, &parse_error)) {
    *error = absl::StrCat("bad timestamp '", timestamp, "': ", parse_error);
    return false;
  }
  auto role = j.find("role");  // absent in entries queued by older versions
  if (role != j.end() && role->is_string()) a.role = role->get<std::string>();
  auto id = j.find("incident_id");
  if (id != j.end() && id->is_number_integer()) a.incident_id = id->get<int64_t>();
  auto details = j.find("details");
  if (details != j.end()) a.details = *details;
  auto links = j.find("links");
  if (links != j.end() && links->is_array()) {
    for (const auto& l : *links) {
      if (!l.is_object()) continue;
      AlertLink link;
      link.href = l.value("href", "");
      link.text = l.value("text", "");
      a.links.push_back(std::move(link));
    }
  }
  *out = std::move(a);
  return true;
}

}  // namespace pgwarden
