#ifndef PGWARDEN_AGENT_RESPONDER_H_
#define PGWARDEN_AGENT_RESPONDER_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "agent/config.h"
#include "core/clock.h"
#include "core/degraded.h"
#include "incidents/manager.h"
#include "pg/session.h"
#include "prometheus/registry.h"
#include "remediation/attribution.h"
#include "remediation/remediator.h"
#include "remediation/session_guard.h"
#include "signals/table_watch.h"

namespace pgwarden {

// Responder is a target's answer to what its TargetWatch saw: it names the
// culprit of each table event (attribution, before the page goes out so the
// first page already names the role), silences roles the operator allowed,
// and hands incidents to the guarded Remediator. Runs on the target's loop
// thread; remediation uses its own connection (the advisory lock that elects
// the acting agent lives on it).
class Responder {
 public:
  Responder(const LiveConfig& config, const TargetConfig& target, prometheus::Registry* registry,
            const prometheus::Labels& const_labels, IncidentManager* incidents, Clock* clock,
            Degraded* degraded = nullptr);
  ~Responder();

  // Observe keeps the pg_stat_statements baselines (cheap; every tick).
  void Observe(pg::Session& conn);
  // Enrich attributes each table event; events by allowed roles move to
  // `suppressed` with reason "allowed_role".
  void Enrich(pg::Session& conn, std::vector<SignalEvent>* events,
              std::vector<std::pair<SignalEvent, std::string>>* suppressed);
  // Respond runs remediation for incidents that just fired with a culprit.
  void Respond(const std::vector<Incident>& touched);
  // Guard looks for destructive statements in flight on `watched` tables
  // and runaway sessions (one pg_stat_activity query), cancelling or
  // terminating them through the Remediator's guards in enforce mode, and
  // appends one event per finding to `out` (a finding on a table `silencer`
  // names a maintenance window for is never acted on, and is appended to
  // out->suppressed).
  void Guard(pg::Session& sample_conn, const std::vector<TableRef>& watched, absl::Time now,
             const TargetWatch::Silencer& silencer, WatchResult* out);

 private:
  // FollowReload drops the Remediator and the session guard when a reload
  // changed the remediation section (loop thread).
  void FollowReload();
  bool EnsureRemediator();
  // RespondTo hands one attribution of incident `inc` to the Remediator.
  void RespondTo(const Incident& inc, const TableRef& table, const Attribution& attr);

  const LiveConfig& config_;
  TargetConfig target_;
  prometheus::Registry* registry_;
  prometheus::Labels const_labels_;
  IncidentManager* incidents_;
  Clock* clock_;
  Degraded* degraded_;
  Attributor attributor_;
  const AgentConfig* seen_;  // the config generation last followed
  // Latest attribution per table ("schema.table"; "schema.table (updates)"
  // for an update_spike's), reused for 2 s. `since`
  // is where its pg_stat_statements window starts: 10 s before the first
  // event of the drop, kept while events keep coming, so a later event of the
  // same drop still counts the rows removed at its start.
  struct Cached {
    Attribution attribution;
    absl::Time at;
    absl::Time since;
  };
  std::map<std::string, Cached> cache_;
  std::unique_ptr<pg::Session> conn_;
  std::unique_ptr<Remediator> remediator_;
  std::unique_ptr<SessionGuard> guard_;
  absl::Time next_connect_ = absl::InfinitePast();
  // Per (incident id, role): whether an action was taken (done or dry run)
  // and when it was last tried. Acted-on culprits are not acted on again;
  // refused ones are retried at most every 5 s while the incident fires.
  struct Attempt {
    bool acted = false;
    absl::Time at;
  };
  std::map<std::pair<int64_t, std::string>, Attempt> attempts_;
};

}  // namespace pgwarden

#endif  // PGWARDEN_AGENT_RESPONDER_H_
