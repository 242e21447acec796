#ifndef PGWARDEN_AGENT_INCIDENTS_H_
#define PGWARDEN_AGENT_INCIDENTS_H_

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "agent/table_watch.h"
#include "alerting/alert.h"
#include "nlohmann/json.hpp"

namespace pgwarden {

// Incident groups what fires together on one object (a table, or a
// database) of one target into one page with one dedup key.
struct Incident {
  int64_t id = 0;
  std::string dedup_key;
  std::string target;
  std::string schema;  // empty for database-wide incidents
  std::string table;
  std::string object;  // "public.customers" or "database"
  std::string kind;    // the kind that opened it
  std::set<std::string> kinds;
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

// IncidentManagerOptions configures grouping and resolution.
struct IncidentManagerOptions {
  std::string environment;
  std::string source;  // agent instance name
  // resolve_after: an incident resolves once none of its signals fired for
  // this long.
  absl::Duration resolve_after = absl::Seconds(60);
  // history: resolved incidents kept for the status page.
  size_t history = 50;
  // state_file keeps the open incidents across restarts (written atomically
  // whenever they change), so that an incident paged before a crash or a
  // SIGKILL still resolves afterwards; "" = not kept.
  std::string state_file;
};

// DedupKey is the stable key of an incident on `object` of `target`; every
// agent watching the same database derives the same one.
std::string DedupKey(const std::string& environment, const std::string& target,
                     const std::string& object);

// IncidentManager opens, updates and resolves incidents, and sends one
// trigger per incident (again when a new kind joins) and one resolve.
// Thread-safe: several target loops share one manager.
class IncidentManager {
 public:
  // MetricsHook is told (kind, +1/-1 active, opened?) to keep gauges.
  using MetricsHook = std::function<void(const std::string& target, const std::string& kind,
                                         bool opened, int active_delta)>;

  IncidentManager(IncidentManagerOptions options, Notifier* notifier);

  void set_metrics_hook(MetricsHook hook) { metrics_hook_ = std::move(hook); }

  // Restore reloads the open incidents of state_file (absent: none). A file
  // that cannot be read is moved aside to state_file + ".bad" and named in
  // the error; the manager then starts empty.
  absl::Status Restore();

  // Observe feeds the events one target produced at one tick and returns a
  // copy of each incident they touched.
  std::vector<Incident> Observe(const std::string& target, const std::vector<SignalEvent>& events);
  // Tick resolves incidents whose signals have been quiet for resolve_after.
  void Tick(absl::Time now);
  // Annotate merges `details` under `key` into an open incident's details
  // (attribution, remediation results) and re-sends its trigger.
  void Annotate(int64_t id, const std::string& key, const nlohmann::json& details,
                const std::string& summary_suffix);

  std::vector<Incident> Open() const;
  nlohmann::json StatusJson() const;

 private:
  Alert MakeAlert(const Incident& inc, AlertAction action) const;
  // Persist writes the open incidents to state_file (mu_ held).
  void Persist();

  IncidentManagerOptions options_;
  Notifier* notifier_;
  MetricsHook metrics_hook_;
  mutable std::mutex mu_;
  int64_t next_id_ = 1;
  std::map<std::string, Incident> open_;  // by dedup key
  std::vector<Incident> history_;
  std::string persist_error_;  // last write error, logged once
};

}  // namespace pgwarden

#endif  // PGWARDEN_AGENT_INCIDENTS_H_
