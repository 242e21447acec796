#ifndef PGWARDEN_INCIDENTS_MANAGER_H_
#define PGWARDEN_INCIDENTS_MANAGER_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "alerting/alert.h"
#include "core/degraded.h"
#include "incidents/dedup_key.h"
#include "incidents/incident.h"
#include "incidents/store.h"
#include "nlohmann/json.hpp"
#include "signals/signal_event.h"

namespace pgwarden {

// IncidentManagerOptions configures grouping and resolution.
struct IncidentManagerOptions {
  std::string environment;
  std::string source;  // agent instance name
  // resolve_after: an incident resolves once none of its signals fired for
  // this long.
  absl::Duration resolve_after = absl::Seconds(60);
  // aftermath_window: a failed-login storm or rollback spike joins a
  // destructive incident of its target while that is open, and for this
  // long after its last destructive signal (reopening it if it resolved).
  absl::Duration aftermath_window = absl::Minutes(10);
  // update_interval: at most one update (re-sent trigger) per incident per
  // interval; changes in between are sent together when it has passed.
  absl::Duration update_interval = absl::Seconds(10);
  // history: resolved incidents kept for the status page.
  size_t history = 50;
  // state_file keeps the open incidents across restarts (written whenever
  // they change, see IncidentStore); "" = not kept.
  std::string state_file;
};

// RecentTable is a table of an open or recently resolved incident, with the
// rows it had when the incident first saw it (-1: not known).
struct RecentTable {
  std::string object;  // "schema.table"
  int64_t rows_before = -1;
  absl::Time opened;  // of the incident
};

// IncidentManager opens, updates and resolves incidents, and sends one
// trigger per incident (again, at most once per update_interval, when a new
// kind or object joins, the severity rises or an annotation arrives) and one
// resolve. The cause is the incident: an attributed signal joins the open
// incident of its (target, culprit role); an unattributed one joins the
// incident its object is in, else opens one of its own.
// Thread-safe: several target loops share one manager. The state file is
// written and alerts are handed on after the lock is released, so the
// status page never waits on a disk.
class IncidentManager {
 public:
  // MetricsHook is told (kind, +1/-1 active, opened?) to keep gauges.
  using MetricsHook = std::function<void(const std::string& target, SignalKind kind, bool opened,
                                         int active_delta)>;

  IncidentManager(IncidentManagerOptions options, Notifier* notifier);

  void set_metrics_hook(MetricsHook hook) { metrics_hook_ = std::move(hook); }
  // set_degraded counts failed state writes (component state_persist).
  void set_degraded(Degraded* degraded) { degraded_ = degraded; }

  // Restore reloads the open incidents of state_file (absent: none). A file
  // that cannot be read is moved aside to state_file + ".bad" and named in
  // the error; the manager then starts empty.
  absl::Status Restore();

  // Observe feeds the events one target produced at one tick and returns a
  // copy of each incident they touched.
  std::vector<Incident> Observe(const std::string& target, const std::vector<SignalEvent>& events);
  // Tick sends the updates that waited for update_interval and resolves
  // incidents whose signals have been quiet for resolve_after.
  void Tick(absl::Time now);
  // Annotate merges `details` under `key` into an open incident's details
  // (attribution, remediation results) and re-sends its trigger.
  void Annotate(int64_t id, const std::string& key, const nlohmann::json& details,
                const std::string& summary_suffix, absl::Time now);

  std::vector<Incident> Open() const;
  // RecentTables lists the tables of `target`'s open incidents and of those
  // resolved at or after `since` (the status page's row history).
  std::vector<RecentTable> RecentTables(const std::string& target, absl::Time since) const;
  nlohmann::json StatusJson() const;

 private:
  // Changes is what one call did, handed on once the lock is released.
  struct Changes {
    std::vector<Alert> alerts;
    int64_t state_version = 0;  // 0: nothing to persist
    std::string state;
  };
  Alert MakeAlert(const Incident& inc, AlertAction action) const;
  // Touch records that the open incidents changed (mu_ held).
  void Touch(Changes* changes) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Apply writes the state and sends the alerts (mu_ not held).
  void Apply(const Changes& changes) ABSL_LOCKS_EXCLUDED(mu_);
  // TickState is what one Observe call gathers: the incidents to (re-)page
  // (id -> dedup key), and the incident that the unattributed TRUNCATEs and
  // DROPs of this tick share (one statement, several tables).
  struct TickState {
    std::map<int64_t, std::string> to_page;
    std::string batch_key;
    Changes* changes = nullptr;
  };
  // Merge folds one event into the open incidents (mu_ held).
  void Merge(const std::string& target, const SignalEvent& ev, TickState* tick)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Find picks the incident an event joins, or null (mu_ held); it may
  // reopen a recently resolved incident or fold an unattributed one into its
  // culprit's.
  Incident* Find(const std::string& target, const SignalEvent& ev, TickState* tick)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  Incident* OpenIncident(const std::string& target, const SignalEvent& ev, const std::string& role)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // AftermathHost is the destructive incident an aftermath signal at `t`
  // joins: open, or resolved within aftermath_window of its last
  // destructive signal (then reopened); null if none.
  Incident* AftermathHost(const std::string& target, absl::Time t)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Absorb moves `from`'s objects into `into` and resolves `from` with a
  // note naming `into` (mu_ held).
  void Absorb(const std::string& from_key, Incident* into, absl::Time now, Changes* changes)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Page sends a trigger for `inc` now, or marks it due when the last one
  // was sent less than update_interval ago (mu_ held).
  void Page(Incident* inc, absl::Time now, Changes* changes) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Retire resolves an open incident (mu_ held; the caller erases it).
  void Retire(Incident* inc, absl::Time now, Changes* changes) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  IncidentManagerOptions options_;
  Notifier* notifier_;
  MetricsHook metrics_hook_;
  Degraded* degraded_ = NoDegraded::Get();
  std::unique_ptr<IncidentStore> store_;

  mutable absl::Mutex mu_;
  int64_t next_id_ ABSL_GUARDED_BY(mu_) = 1;
  std::map<std::string, Incident> open_ ABSL_GUARDED_BY(mu_);  // by dedup key
  std::vector<Incident> history_ ABSL_GUARDED_BY(mu_);
  int64_t state_version_ ABSL_GUARDED_BY(mu_) = 0;

  // persist_mu_ orders state writes; a write older than the last one
  // written is skipped.
  absl::Mutex persist_mu_ ABSL_ACQUIRED_AFTER(mu_);
  int64_t written_version_ ABSL_GUARDED_BY(persist_mu_) = 0;
  std::string persist_error_ ABSL_GUARDED_BY(persist_mu_);  // last write error, logged once
};

}  // namespace pgwarden

#endif  // PGWARDEN_INCIDENTS_MANAGER_H_
