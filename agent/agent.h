#ifndef PGWARDEN_AGENT_AGENT_H_
#define PGWARDEN_AGENT_AGENT_H_

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "agent/config.h"
#include "core/clock.h"
#include "core/degraded.h"
#include "exporters/agent_metrics.h"
#include "exporters/http_server.h"
#include "incidents/manager.h"
#include "nlohmann/json.hpp"
#include "prometheus/gauge.h"
#include "prometheus/registry.h"
#include "signals/table_watch.h"
#include "sources/pg_sampler.h"

namespace pgwarden {

class AlertDispatcher;
class TargetLoop;
class DegradedCounter;

// Agent is `pgwarden run`: one sampling loop per watched database, the
// incident manager, the alert dispatcher and the HTTP endpoint. A server
// target's databases are discovered at start and every discovery_interval
// on a thread of their own: a new database gets a loop, a database gone
// from pg_database is paged once (if it was sampled) and forgotten.
class Agent {
 public:
  static absl::StatusOr<std::unique_ptr<Agent>> Create(AgentConfig config, Clock* clock);
  ~Agent();
  Agent(const Agent&) = delete;
  Agent& operator=(const Agent&) = delete;

  // Start binds the listen address and starts every loop.
  absl::Status Start();
  // Stop ends the loops (bounded) and flushes what can be flushed.
  void Stop();
  // Reload re-reads the config file (SIGHUP, POST /-/reload): targets,
  // sinks, detectors, maintenance windows and remediation settings apply
  // without a restart; open incidents, the outbox and the state of loops
  // whose target did not change are kept. A config that does not load is
  // refused whole (the running one stays) and returned;
  // pgwarden_config_last_reload_successful is 0 until one loads.
  absl::Status Reload() ABSL_LOCKS_EXCLUDED(reload_mu_);
  int http_port() const { return http_ ? http_->port() : 0; }
  std::string StatusJson() const;

 private:
  Agent(AgentConfig config, Clock* clock);

  // ServerState is one server target and the loops of its databases.
  struct ServerState {
    const TargetConfig* config = nullptr;
    std::map<std::string, TargetLoop*> loops;  // by database, owned by loops_
    absl::Time next_discovery = absl::InfinitePast();
    absl::Time last_discovery = absl::InfinitePast();
    std::string error;  // of the last discovery, "" when it worked
  };

  // AddLoop creates (and, once started, starts) the loop of `target` with
  // its series that exist before the first event.
  TargetLoop* AddLoop(const TargetConfig& target) ABSL_LOCKS_EXCLUDED(loops_mu_);
  // RegisterSeries creates target `id`'s counters at 0.
  void RegisterSeries(const std::string& id);
  // Discover lists one server's databases and adds and removes loops.
  void Discover(ServerState& server);
  void RunDiscovery();
  // DiscoveryPass discovers the servers that are due; returns when the next
  // one is.
  absl::Time DiscoveryPass() ABSL_LOCKS_EXCLUDED(servers_mu_);
  // RemoveLoop stops `loop` and forgets it (its series too with
  // `remove_series`).
  void RemoveLoop(TargetLoop* loop, bool remove_series) ABSL_LOCKS_EXCLUDED(loops_mu_);
  // RegisterReloadSeries creates pgwarden_config_last_reload_successful
  // (1: the config at start loaded) and its timestamp.
  void RegisterReloadSeries();
  absl::Status ApplyReload() ABSL_EXCLUSIVE_LOCKS_REQUIRED(reload_mu_);
  // ReloadTargets adds, replaces, re-filters and removes loops and server
  // targets for the config `live_` now points to.
  void ReloadTargets(const AgentConfig& cfg, bool detectors_changed)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(reload_mu_);

  AgentConfig config_;  // as loaded at start
  // live_ is what the loops read: config_, then each reloaded generation
  // (kept in generations_ for the agent's lifetime).
  LiveConfig live_{&config_};
  absl::Mutex reload_mu_;
  std::vector<std::unique_ptr<AgentConfig>> generations_ ABSL_GUARDED_BY(reload_mu_);
  prometheus::Gauge* reload_ok_ = nullptr;
  prometheus::Gauge* reload_time_ = nullptr;
  Clock* clock_;
  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<AgentMetrics> metrics_;
  std::shared_ptr<Exposition> exposition_;     // /metrics
  std::unique_ptr<DegradedCounter> degraded_;  // pgwarden_degraded_total
  std::unique_ptr<DetectorFactories> factories_;
  std::unique_ptr<AlertDispatcher> dispatcher_;
  std::unique_ptr<IncidentManager> incidents_;
  mutable absl::Mutex loops_mu_;
  std::vector<std::unique_ptr<TargetLoop>> loops_ ABSL_GUARDED_BY(loops_mu_);
  bool started_ ABSL_GUARDED_BY(loops_mu_) = false;
  // servers_mu_ is held by each discovery pass and by a reload.
  absl::Mutex servers_mu_ ABSL_ACQUIRED_AFTER(reload_mu_);
  std::vector<ServerState> servers_ ABSL_GUARDED_BY(servers_mu_);
  mutable absl::Mutex servers_status_mu_;
  nlohmann::json servers_status_ ABSL_GUARDED_BY(servers_status_mu_) = nlohmann::json::array();
  std::thread discovery_;
  absl::Mutex stop_mu_;
  bool stop_ ABSL_GUARDED_BY(stop_mu_) = false;
  bool discovery_wake_ ABSL_GUARDED_BY(stop_mu_) = false;
  std::unique_ptr<HttpServer> http_;
  absl::Mutex active_mu_;
  std::map<std::pair<std::string, SignalKind>, int> active_by_kind_ ABSL_GUARDED_BY(active_mu_);
};

}  // namespace pgwarden

#endif  // PGWARDEN_AGENT_AGENT_H_
