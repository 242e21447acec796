#ifndef PGWARDEN_INCIDENTS_INCIDENT_H_
#define PGWARDEN_INCIDENTS_INCIDENT_H_

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "alerting/alert.h"
#include "nlohmann/json.hpp"
#include "signals/signal_event.h"

namespace pgwarden {

// IncidentMember is one object (a table, "schema X", "database") of an
// incident, with the rows it had when the incident first saw it and now.
struct IncidentMember {
  std::string schema;
  std::string table;
  std::set<SignalKind> kinds;
  int64_t rows_before = -1;  // -1: not known (no row figures yet)
  int64_t rows_now = -1;
  int64_t rows_updated = 0;  // rows overwritten (update_spike), latest burst
  // A partitioned table's rows are the sums over its partitions' (before,
  // now), kept here by partition name.
  std::map<std::string, std::pair<int64_t, int64_t>> partitions;
  absl::Time last_fired;
  int64_t RowsLost() const {
    return rows_before >= 0 && rows_now >= 0 && rows_before > rows_now ? rows_before - rows_now : 0;
  }
};

// Incident groups what fires together into one page with one dedup key:
// every object one culprit role hits on one target while it is open (or,
// unattributed, one object), and the aftermath (failed logins, rollbacks)
// that follows a destructive incident.
struct Incident {
  int64_t id = 0;
  std::string dedup_key;
  std::string target;
  std::string schema;  // empty for database-wide incidents
  std::string table;
  std::string object;  // the first object: "public.customers" or "database"
  std::string role;    // the culprit; "" while unattributed
  std::map<std::string, IncidentMember> members;  // by object
  SignalKind kind = SignalKind::kRowLoss;         // the kind that opened it
  std::set<SignalKind> kinds;
  Severity severity = Severity::kInfo;
  absl::Time opened;
  absl::Time last_fired;
  absl::Time resolved_at;
  absl::Time last_destructive = absl::InfinitePast();  // last signal of a destructive kind
  absl::Time last_sent = absl::InfinitePast();         // last trigger handed to the sinks
  bool update_due = false;                             // a change waits for the update interval
  bool open = true;
  int64_t events = 0;
  std::string summary;
  // note: what was done about it (remediation results, "undo: ..."), kept
  // apart from the summary so that later signals do not overwrite it.
  std::string note;
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
