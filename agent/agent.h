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

  AgentConfig config_;
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
  std::vector<ServerState> servers_;  // the discovery thread's (after Start)
  mutable absl::Mutex servers_status_mu_;
  nlohmann::json servers_status_ ABSL_GUARDED_BY(servers_status_mu_) = nlohmann::json::array();
  std::thread discovery_;
  absl::Mutex stop_mu_;
  bool stop_ ABSL_GUARDED_BY(stop_mu_) = false;
  std::unique_ptr<HttpServer> http_;
  absl::Mutex active_mu_;
  std::map<std::pair<std::string, SignalKind>, int> active_by_kind_ ABSL_GUARDED_BY(active_mu_);
};

}  // namespace pgwarden

#endif  // PGWARDEN_AGENT_AGENT_H_
