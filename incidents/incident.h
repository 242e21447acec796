#ifndef PGWARDEN_INCIDENTS_INCIDENT_H_
#define PGWARDEN_INCIDENTS_INCIDENT_H_

#include <cstdint>
#include <set>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "alerting/alert.h"
#include "nlohmann/json.hpp"
#include "signals/signal_event.h"

namespace pgwarden {

// Incident groups what fires together on one object (a table, or a
// database) of one target into one page with one dedup key.
struct Incident {
  int64_t id = 0;
  std::string dedup_key;
  std::string target;
  std::string schema;  // empty for database-wide incidents
  std::string table;
  std::string object;                      // "public.customers" or "database"
  SignalKind kind = SignalKind::kRowLoss;  // the kind that opened it
  std::set<SignalKind> kinds;
  Severity severity = Severity::kInfo;
  absl::Time opened;
  absl::Time last_fired;
  absl::Time resolved_at;
  bool open = true;
  int64_t events = 0;
  std::string summary;
  // details: the latest figures of each kind, plus attribution and
  // remediation notes added by other components.
  nlohmann::json details = nlohmann::json::object();
};

// KindNames lists kinds by name, alphabetically, for JSON.
nlohmann::json KindNames(const std::set<SignalKind>& kinds);

// StatusJson is an incident as the status page shows it.
nlohmann::json StatusJson(const Incident& inc);

// StateJson is what the state file keeps of an open incident; FromStateJson
// reads it back (InvalidArgument naming the bad field).
nlohmann::json StateJson(const Incident& inc);
absl::StatusOr<Incident> FromStateJson(const nlohmann::json& j);

}  // namespace pgwarden

#endif  // PGWARDEN_INCIDENTS_INCIDENT_H_
