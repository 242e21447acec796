#ifndef PGWARDEN_ALERTING_ALERT_H_
#define PGWARDEN_ALERTING_ALERT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "nlohmann/json.hpp"

namespace pgwarden {

enum class AlertAction { kTrigger, kResolve };
enum class Severity { kCritical, kError, kWarning, kInfo };

// SeverityName is "critical", "error", "warning" or "info" (the PagerDuty
// Events v2 vocabulary).
const char* SeverityName(Severity s);

// SeverityFromName parses SeverityName's vocabulary; false if unknown.
bool SeverityFromName(const std::string& name, Severity* out);

// AlertLink is a link shown with the page (runbook, dashboard, status page).
struct AlertLink {
  std::string href;
  std::string text;
};

// Alert is one page (trigger) or all-clear (resolve) for an incident, in a
// sink-neutral form; each sink maps it to its receiver's payload.
struct Alert {
  AlertAction action = AlertAction::kTrigger;
  // dedup_key is stable for an incident and the same on every agent that
  // watches the same database (derived from environment, target and object).
  std::string dedup_key;
  // summary is one human line: target, object and what happened.
  std::string summary;
  Severity severity = Severity::kCritical;
  std::string environment;
  // source is the agent host / instance name.
  std::string source;
  // target is the configured database name ("shop").
  std::string target;
  // object is the affected object ("public.customers") or "database".
  std::string object;
  // role is the culprit the incident is about ("" while unattributed).
  std::string role;
  // kind is the incident kind ("row_loss", "truncate", "drop_table",
  // "delete_spike", "rollback_ratio", ...).
  std::string kind;
  // incident_id is the agent-local incident number.
  int64_t incident_id = 0;
  absl::Time timestamp;
  // details are the figures (rows before/now, rate, role, ...) sent as
  // PagerDuty custom_details / webhook details.
  nlohmann::json details = nlohmann::json::object();
  // links are shown with the page (PagerDuty links, Slack buttons, webhook
  // "links"); optional.
  std::vector<AlertLink> links;
};

// AlertToJson is the lossless JSON form of an alert (used by the outbox and
// by the generic webhook sink).
nlohmann::json AlertToJson(const Alert& alert);

// AlertFromJson reads AlertToJson's output; false (and *error set) when a
// field is missing or has the wrong type.
bool AlertFromJson(const nlohmann::json& j, Alert* out, std::string* error);

// Notifier accepts alerts for delivery. Notify never blocks on the network.
class Notifier {
 public:
  virtual ~Notifier() = default;
  virtual void Notify(const Alert& alert) = 0;
};

}  // namespace pgwarden

#endif  // PGWARDEN_ALERTING_ALERT_H_
