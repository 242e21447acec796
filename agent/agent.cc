#include "agent/agent.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "agent/target_loop.h"
#include "alerting/dispatcher.h"
#include "core/log.h"
#include "core/version.h"
#include "remediation/remediator.h"

namespace pgwarden {

namespace {
absl::StatusOr<DetectorFactories> MakeFactories(const DetectorsConfig& d) {
  DetectorFactories f;
  auto rows = MakeDetectorFactory(d.rows.detector, d.rows.params);
  if (!rows.ok()) return rows.status();
  auto rate = MakeDetectorFactory(d.delete_rate.detector, d.delete_rate.params);
  if (!rate.ok()) return rate.status();
  auto ratio = MakeDetectorFactory(d.rollback_ratio.detector, d.rollback_ratio.params);
  if (!ratio.ok()) return ratio.status();
  f.rows = *rows;
  f.delete_rate = *rate;
  f.rollback_ratio = *ratio;
  auto logins = MakeDetectorFactory(d.failed_logins.detector, d.failed_logins.params);
  if (!logins.ok()) return logins.status();
  f.failed_logins = *logins;
  auto updates = MakeDetectorFactory(d.update_rate.detector, d.update_rate.params);
  if (!updates.ok()) return updates.status();
  f.update_rate = *updates;
  f.update_gate = d.update_gate;
  return f;
}

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
      for (const char* c : {kDegradedAttribution, kDegradedSessionGuard,
                            kDegradedRemediationConnection, kDegradedAudit}) {
        Add(t.name, c, 0);
      }
    }
    Add("", kDegradedStatePersist, 0);
  }
  void Count(const std::string& target, const std::string& component) override {
    Add(target, component, 1);
  }

 private:
  void Add(const std::string& target, const std::string& component, double n) {
    family_.Add({{"target", target}, {"component", component}}).Increment(n);
  }
  prometheus::Family<prometheus::Counter>& family_;
};
}  // namespace

Agent::Agent(AgentConfig config, Clock* clock)
    : config_(std::move(config)),
      clock_(clock),
      registry_(std::make_shared<prometheus::Registry>()) {}

Agent::~Agent() { Stop(); }

absl::StatusOr<std::unique_ptr<Agent>> Agent::Create(AgentConfig config, Clock* clock) {
  std::unique_ptr<Agent> agent(new Agent(std::move(config), clock));
  const AgentConfig& cfg = agent->config_;
  absl::StatusOr<DetectorFactories> factories = MakeFactories(cfg.detectors);
  if (!factories.ok()) return factories.status();

  std::error_code ec;
  std::filesystem::create_directories(cfg.state_dir, ec);
  if (ec) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot create state_dir ", cfg.state_dir, ": ", ec.message()));
  }
  agent->metrics_ = std::make_unique<AgentMetrics>(*agent->registry_, cfg.environment);
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
        const prometheus::Labels labels = {{"target", target}, {"kind", SignalKindName(kind)}};
        if (opened) self->metrics_->incidents.Add(labels).Increment();
        absl::MutexLock lock(&self->active_mu_);
        int& n = self->active_by_kind_[{target, kind}];
        n += delta;
        self->metrics_->incident_active.Add(labels).Set(n);
      });
  // Series that exist before the first event (a counter first seen at 1
  // hides that increment from increase()): incidents and active incidents
  // per target and kind, remediation actions per target, action and result.
  std::vector<std::string> target_names;
  for (const TargetConfig& t : cfg.targets) {
    target_names.push_back(t.name);
    for (SignalKind kind : kAllSignalKinds) {
      const prometheus::Labels labels = {{"target", t.name}, {"kind", SignalKindName(kind)}};
      agent->metrics_->incidents.Add(labels);
      agent->metrics_->incident_active.Add(labels).Set(0);
    }
  }
  absl::StatusOr<prometheus::Family<prometheus::Counter>*> actions =
      Remediator::RegisterActionsMetric(agent->registry_.get(), agent->metrics_->ConstLabels(),
                                        target_names);
  if (!actions.ok()) return actions.status();
  if (absl::Status s = agent->incidents_->Restore(); !s.ok()) PGW_LOG(Error) << s.message();
  for (const TargetConfig& t : cfg.targets) {
    agent->loops_.push_back(std::make_unique<TargetLoop>(
        cfg, t, *factories, agent->metrics_.get(), agent->incidents_.get(), agent->registry_.get(),
        clock, agent->degraded_.get()));
  }
  return agent;
}

absl::Status Agent::Start() {
  HttpServerHandlers handlers;
  handlers.status_json = [this] { return StatusJson(); };
  handlers.healthy = [this] {
    const absl::Time now = clock_->Now();
    for (const auto& loop : loops_) {
      if (!loop->alive(now)) return false;
    }
    return true;
  };
  http_ = std::make_unique<HttpServer>(registry_, handlers);
  if (absl::Status s = http_->Start(config_.listen); !s.ok()) return s;
  dispatcher_->Start();
  for (auto& loop : loops_) loop->Start();
  PGW_LOG(Info) << "pgwarden " << kPgwardenVersion << " watching " << loops_.size()
                << " target(s) every " << absl::FormatDuration(config_.interval) << ", environment "
                << config_.environment << ", metrics on http://" << config_.listen << "/metrics";
  return absl::OkStatus();
}

void Agent::Stop() {
  for (auto& loop : loops_) loop->Stop();
  if (dispatcher_) dispatcher_->Stop();
  if (http_) http_->Stop();
}

std::string Agent::StatusJson() const {
  nlohmann::json targets = nlohmann::json::array();
  for (const auto& loop : loops_) targets.push_back(loop->StatusJson());
  nlohmann::json j = {
      {"version", kPgwardenVersion},  {"environment", config_.environment},
      {"instance", config_.instance}, {"interval_seconds", absl::ToDoubleSeconds(config_.interval)},
      {"targets", targets},           {"incidents", incidents_->StatusJson()}};
  return j.dump(2);
}

}  // namespace pgwarden
