#ifndef PGWARDEN_AGENT_AGENT_H_
#define PGWARDEN_AGENT_AGENT_H_

#include <atomic>
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
#include "prometheus/registry.h"
#include "signals/table_watch.h"
#include "sources/pg_sampler.h"

namespace pgwarden {

class AlertDispatcher;
class TargetLoop;

// Agent is `pgwarden run`: one sampling loop per target, the incident
// manager, the alert dispatcher and the HTTP endpoint.
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

  AgentConfig config_;
  Clock* clock_;
  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<AgentMetrics> metrics_;
  std::unique_ptr<Degraded> degraded_;  // pgwarden_degraded_total
  std::unique_ptr<AlertDispatcher> dispatcher_;
  std::unique_ptr<IncidentManager> incidents_;
  std::vector<std::unique_ptr<TargetLoop>> loops_;
  std::unique_ptr<HttpServer> http_;
  absl::Mutex active_mu_;
  std::map<std::pair<std::string, SignalKind>, int> active_by_kind_ ABSL_GUARDED_BY(active_mu_);
};

}  // namespace pgwarden

#endif  // PGWARDEN_AGENT_AGENT_H_
