#include "agent/agent.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <set>

#include "absl/strings/str_cat.h"
#include "agent/discovery.h"
#include "agent/reload.h"
#include "agent/target_loop.h"
#include "alerting/dispatcher.h"
#include "core/log.h"
#include "core/target_id.h"
#include "core/version.h"
#include "exporters/status_page.h"
#include "remediation/remediator.h"

namespace pgwarden {

// DegradedCounter is pgwarden_degraded_total{target,component}; every
// target's series exist from start, at 0.
class DegradedCounter : public Degraded {
 public:
  DegradedCounter(prometheus::Registry& registry, const prometheus::Labels& const_labels,
                  const std::vector<TargetConfig>& targets)
      : family_(prometheus::BuildCounter()
                    .Name("pgwarden_degraded_total")
                    .Help("Times pgwarden carried on without a component (attribution, "
                          "session_guard, remediation_connection, state_persist, audit).")
                    .Labels(const_labels)
                    .Register(registry)) {
    for (const TargetConfig& t : targets) {
      if (!t.databases) AddTarget(t.name);
    }
    Add("", kDegradedStatePersist, 0);
  }
  void AddTarget(const std::string& id) {
    for (const char* c : {kDegradedAttribution, kDegradedSessionGuard,
                          kDegradedRemediationConnection, kDegradedAudit}) {
      Add(id, c, 0);
    }
  }
  void Count(const std::string& target, const std::string& component) override {
    Add(target, component, 1);
  }

 private:
  void Add(const std::string& target, const std::string& component, double n) {
    family_.Add(TargetLabels(target, "component", component)).Increment(n);
  }
  prometheus::Family<prometheus::Counter>& family_;
};

Agent::Agent(AgentConfig config, Clock* clock)
    : config_(std::move(config)),
      clock_(clock),
      registry_(std::make_shared<prometheus::Registry>()) {}

Agent::~Agent() { Stop(); }

absl::StatusOr<std::unique_ptr<Agent>> Agent::Create(AgentConfig config, Clock* clock) {
  std::unique_ptr<Agent> agent(new Agent(std::move(config), clock));
  const AgentConfig& cfg = agent->config_;
  absl::StatusOr<DetectorFactories> factories = MakeDetectorFactories(cfg.detectors);
  if (!factories.ok()) return factories.status();

  std::error_code ec;
  std::filesystem::create_directories(cfg.state_dir, ec);
  if (ec) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot create state_dir ", cfg.state_dir, ": ", ec.message()));
  }
  agent->metrics_ = std::make_unique<AgentMetrics>(*agent->registry_, cfg.environment);
  // A document rendered at most once per tick, however often it is scraped.
  agent->exposition_ = std::make_shared<Exposition>(agent->registry_, cfg.interval);
  agent->metrics_->exposition = agent->exposition_.get();
  agent->degraded_ = std::make_unique<DegradedCounter>(*agent->registry_,
                                                       agent->metrics_->ConstLabels(), cfg.targets);
  absl::StatusOr<std::unique_ptr<AlertDispatcher>> dispatcher = AlertDispatcher::Create(
      cfg.alerting, cfg.state_dir, *agent->registry_, agent->metrics_->ConstLabels(), clock);
  if (!dispatcher.ok()) return dispatcher.status();
  agent->dispatcher_ = std::move(*dispatcher);

  IncidentManagerOptions iopts;
  iopts.environment = cfg.environment;
  iopts.source = cfg.instance;
  iopts.resolve_after = cfg.resolve_after;
  iopts.aftermath_window = cfg.aftermath_window;
  iopts.update_interval = cfg.incident_update_interval;
  iopts.state_file = (std::filesystem::path(cfg.state_dir) / "incidents.json").string();
  agent->incidents_ = std::make_unique<IncidentManager>(iopts, agent->dispatcher_.get());
  agent->incidents_->set_degraded(agent->degraded_.get());
  Agent* self = agent.get();
  agent->incidents_->set_metrics_hook(
      [self](const std::string& target, SignalKind kind, bool opened, int delta) {
        const prometheus::Labels labels = TargetLabels(target, "kind", SignalKindName(kind));
        if (opened) self->metrics_->incidents.Add(labels).Increment();
        absl::MutexLock lock(&self->active_mu_);
        int& n = self->active_by_kind_[{target, kind}];
        n += delta;
        self->metrics_->incident_active.Add(labels).Set(n);
      });
  if (absl::Status s = agent->incidents_->Restore(); !s.ok()) PGW_LOG(Error) << s.message();
  agent->factories_ = std::make_unique<DetectorFactories>(*factories);
  agent->RegisterReloadSeries();
  absl::MutexLock servers(&agent->servers_mu_);
  for (const TargetConfig& t : cfg.targets) {
    if (t.databases) {
      ServerState server;
      server.config = &t;
      agent->servers_.push_back(std::move(server));
    } else {
      agent->AddLoop(t);
    }
  }
  return agent;
}

void Agent::RegisterSeries(const std::string& id) {
  // Series that exist before the first event (a counter first seen at 1
  // hides that increment from increase()): incidents and active incidents
  // per kind, remediation actions per action and result, degradations.
  for (SignalKind kind : kAllSignalKinds) {
    const prometheus::Labels labels = TargetLabels(id, "kind", SignalKindName(kind));
    metrics_->incidents.Add(labels);
    metrics_->incident_active.Add(labels).Set(0);
  }
  absl::StatusOr<prometheus::Family<prometheus::Counter>*> actions =
      Remediator::RegisterActionsMetric(registry_.get(), metrics_->ConstLabels(), {id});
  if (!actions.ok()) PGW_LOG(Error) << actions.status().message();
  degraded_->AddTarget(id);
}

TargetLoop* Agent::AddLoop(const TargetConfig& target) {
  RegisterSeries(target.name);
  auto loop =
      std::make_unique<TargetLoop>(live_, target, *factories_, metrics_.get(), incidents_.get(),
                                   registry_.get(), clock_, degraded_.get());
  TargetLoop* raw = loop.get();
  absl::MutexLock lock(&loops_mu_);
  loops_.push_back(std::move(loop));
  if (started_) raw->Start();
  return raw;
}

void Agent::Discover(ServerState& server) {
  const ScopedLogTarget log_target(server.config->name);
  const TargetConfig& t = *server.config;
  absl::StatusOr<std::vector<std::string>> listed = DiscoverDatabases(t, "pgwarden");
  server.last_discovery = clock_->Now();
  server.next_discovery = server.last_discovery + t.databases->discovery_interval;
  if (!listed.ok()) {
    const std::string msg(listed.status().message());
    if (msg != server.error) {
      PGW_LOG(Warning) << "target " << t.name << ": cannot list databases (keeping the "
                       << server.loops.size() << " watched): " << msg;
    }
    server.error = msg;
    return;
  }
  server.error.clear();
  const std::set<std::string> now(listed->begin(), listed->end());
  for (const std::string& db : now) {
    if (server.loops.count(db) > 0) continue;
    PGW_LOG(Info) << "target " << t.name << ": watching database " << db;
    server.loops[db] = AddLoop(ForDatabase(t, db));
  }
  for (auto it = server.loops.begin(); it != server.loops.end();) {
    if (now.count(it->first) > 0) {
      ++it;
      continue;
    }
    PGW_LOG(Info) << "target " << t.name << ": database " << it->first
                  << " is gone, no longer watched";
    TargetLoop* loop = it->second;
    loop->Stop();
    loop->DatabaseGone();
    RemoveLoop(loop, /*remove_series=*/true);
    it = server.loops.erase(it);
  }
}

void Agent::RemoveLoop(TargetLoop* loop, bool remove_series) {
  loop->Stop();
  if (remove_series) loop->RemoveSeries();
  absl::MutexLock lock(&loops_mu_);
  loops_.erase(
      std::remove_if(loops_.begin(), loops_.end(),
                     [loop](const std::unique_ptr<TargetLoop>& l) { return l.get() == loop; }),
      loops_.end());
}

absl::Time Agent::DiscoveryPass() {
  absl::Time next = absl::InfiniteFuture();
  nlohmann::json status = nlohmann::json::array();
  absl::MutexLock servers(&servers_mu_);
  for (ServerState& server : servers_) {
    if (clock_->Now() >= server.next_discovery) Discover(server);
    next = std::min(next, server.next_discovery);
    nlohmann::json dbs = nlohmann::json::array();
    for (const auto& [db, loop] : server.loops) dbs.push_back(db);
    nlohmann::json j = {{"name", server.config->name}, {"databases", dbs}};
    if (!server.error.empty()) j["last_error"] = server.error;
    j["last_discovery"] =
        absl::FormatTime(absl::RFC3339_full, server.last_discovery, absl::UTCTimeZone());
    status.push_back(std::move(j));
  }
  absl::MutexLock lock(&servers_status_mu_);
  servers_status_ = std::move(status);
  return next;
}

void Agent::RunDiscovery() {
  while (true) {
    const absl::Time next = DiscoveryPass();
    absl::MutexLock lock(&stop_mu_);
    // A reload that adds a server wakes the wait (discovery_wake_).
    const absl::Duration wait = std::max(absl::Milliseconds(10), next - clock_->Now());
    auto woken = [this]() ABSL_SHARED_LOCKS_REQUIRED(stop_mu_) { return stop_ || discovery_wake_; };
    stop_mu_.AwaitWithTimeout(absl::Condition(&woken), wait);
    if (stop_) return;
    discovery_wake_ = false;
  }
}

absl::Status Agent::Start() {
  HttpServerHandlers handlers;
  handlers.status_json = [this] { return StatusJson(); };
  if (config_.enable_lifecycle) handlers.reload = [this] { return Reload(); };
  handlers.healthy = [this] {
    const absl::Time now = clock_->Now();
    absl::MutexLock lock(&loops_mu_);
    for (const auto& loop : loops_) {
      if (!loop->alive(now)) return false;
    }
    return true;
  };
  http_ = std::make_unique<HttpServer>(exposition_, handlers, config_.web, registry_.get(),
                                       metrics_->ConstLabels());
  if (absl::Status s = http_->Start(config_.listen, config_.web_config_file); !s.ok()) return s;
  dispatcher_->Start();
  size_t plain = 0;
  {
    absl::MutexLock lock(&loops_mu_);
    started_ = true;
    for (auto& loop : loops_) loop->Start();
    plain = loops_.size();
  }
  size_t servers = 0;
  {
    // The first discovery before Start returns: the databases there are now
    // are watched from the first tick.
    absl::MutexLock lock(&servers_mu_);
    for (ServerState& server : servers_) Discover(server);
    servers = servers_.size();
    if (servers > 0) discovery_ = std::thread([this] { RunDiscovery(); });
  }
  PGW_LOG(Info) << "pgwarden " << kPgwardenVersion << " watching " << plain << " database(s)"
                << (servers == 0 ? "" : absl::StrCat(" and ", servers, " server(s)")) << " every "
                << absl::FormatDuration(config_.interval) << ", environment " << config_.environment
                << ", metrics on http://" << config_.listen << "/metrics";
  return absl::OkStatus();
}

void Agent::Stop() {
  {
    absl::MutexLock lock(&stop_mu_);
    stop_ = true;
  }
  if (discovery_.joinable()) discovery_.join();
  {
    absl::MutexLock lock(&loops_mu_);
    for (auto& loop : loops_) loop->Stop();
  }
  if (dispatcher_) dispatcher_->Stop();
  if (http_) http_->Stop();
}

std::string Agent::StatusJson() const {
  nlohmann::json targets = nlohmann::json::array();
  {
    absl::MutexLock lock(&loops_mu_);
    for (const auto& loop : loops_) targets.push_back(loop->StatusJson());
  }
  nlohmann::json j = {
      {"version", kPgwardenVersion},  {"environment", config_.environment},
      {"instance", config_.instance}, {"interval_seconds", absl::ToDoubleSeconds(config_.interval)},
      {"targets", targets},           {"incidents", incidents_->StatusJson()}};
  // The remediation audit file's tail (a bounded read; an absent file, none).
  j["audit"] = AuditTail(live_->remediation.AuditPath(live_->state_dir));
  absl::MutexLock lock(&servers_status_mu_);
  if (!servers_status_.empty()) j["servers"] = servers_status_;
  return j.dump(2);
}

}  // namespace pgwarden
