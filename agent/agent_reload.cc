// Agent::Reload: the config file re-read while the agent runs.
#include <map>
#include <set>

#include "absl/strings/str_join.h"
#include "agent/agent.h"
#include "agent/discovery.h"
#include "agent/reload.h"
#include "agent/target_loop.h"
#include "alerting/dispatcher.h"
#include "core/log.h"

namespace pgwarden {

void Agent::RegisterReloadSeries() {
  const prometheus::Labels labels = metrics_->ConstLabels();
  reload_ok_ = &prometheus::BuildGauge()
                    .Name("pgwarden_config_last_reload_successful")
                    .Help(
                        "1 if the last config (re)load succeeded, 0 while the running config "
                        "is older than a file that failed to load")
                    .Labels(labels)
                    .Register(*registry_)
                    .Add({});
  reload_time_ = &prometheus::BuildGauge()
                      .Name("pgwarden_config_last_reload_success_timestamp_seconds")
                      .Help("Unix time of the last successful config (re)load")
                      .Labels(labels)
                      .Register(*registry_)
                      .Add({});
  reload_ok_->Set(1);
  reload_time_->Set(absl::ToDoubleSeconds(clock_->Now() - absl::UnixEpoch()));
}

absl::Status Agent::Reload() {
  absl::MutexLock lock(&reload_mu_);
  absl::Status s = ApplyReload();
  reload_ok_->Set(s.ok() ? 1 : 0);
  if (s.ok()) {
    reload_time_->Set(absl::ToDoubleSeconds(clock_->Now() - absl::UnixEpoch()));
  } else {
    PGW_LOG(Error) << "config reload refused, the running config stays: " << s.message();
  }
  return s;
}

absl::Status Agent::ApplyReload() {
  const AgentConfig& running = *live_.get();
  absl::StatusOr<AgentConfig> next = LoadConfig(running.path);
  if (!next.ok()) return next.status();
  absl::StatusOr<DetectorFactories> factories = MakeDetectorFactories(next->detectors);
  if (!factories.ok()) return factories.status();
  const ReloadPlan plan = PlanReload(running, &*next);
  // The last step that can fail: after it, everything applies.
  if (absl::Status s = dispatcher_->Reconfigure(next->alerting); !s.ok()) return s;
  for (const std::string& key : plan.restart_only) {
    PGW_LOG(Warning) << "config reload: `" << key
                     << "` changed; it applies at the next restart (the running value stays)";
  }
  generations_.push_back(std::make_unique<AgentConfig>(*std::move(next)));
  const AgentConfig& cfg = *generations_.back();
  if (ConfigSection(running, "log_level") != ConfigSection(cfg, "log_level")) {
    LogLevel level = LogLevel::kInfo;
    if (ParseLogLevel(cfg.log_level, &level)) SetLogLevel(level);
  }
  if (ConfigSection(running, "log_format") != ConfigSection(cfg, "log_format")) {
    LogFormat format = LogFormat::kText;
    if (ParseLogFormat(cfg.log_format, &format)) SetLogFormat(format);
  }
  {
    absl::MutexLock servers(&servers_mu_);
    if (plan.detectors_changed) *factories_ = *factories;
    live_.Set(&cfg);
  }
  ReloadTargets(cfg, plan.detectors_changed);
  PGW_LOG(Info) << "config reloaded from " << cfg.path << " ("
                << (plan.changed.empty() ? "no change" : absl::StrJoin(plan.changed, ", ")) << ")";
  return absl::OkStatus();
}

void Agent::ReloadTargets(const AgentConfig& cfg, bool detectors_changed) {
  absl::MutexLock servers(&servers_mu_);
  std::map<std::string, const TargetConfig*> plain;
  std::map<std::string, const TargetConfig*> server_targets;
  for (const TargetConfig& t : cfg.targets) (t.databases ? server_targets : plain)[t.name] = &t;
  auto change = [detectors_changed](const TargetConfig& was, const TargetConfig& now) {
    return detectors_changed ? TargetChange::kReplace : CompareTarget(was, now);
  };

  std::set<const TargetLoop*> of_servers;
  for (const ServerState& server : servers_) {
    for (const auto& [db, loop] : server.loops) of_servers.insert(loop);
  }
  std::vector<TargetLoop*> loops;
  {
    absl::MutexLock lock(&loops_mu_);
    for (const auto& loop : loops_) {
      if (of_servers.count(loop.get()) == 0) loops.push_back(loop.get());
    }
  }
  for (TargetLoop* loop : loops) {
    auto it = plain.find(loop->name());
    if (it == plain.end()) {
      PGW_LOG(Info) << "target " << loop->name() << ": no longer in the config, not watched";
      RemoveLoop(loop, /*remove_series=*/true);
      continue;
    }
    const TargetChange c = change(loop->configured(), *it->second);
    if (c == TargetChange::kReplace) {
      PGW_LOG(Info) << "target " << loop->name() << ": changed, restarting its loop";
      RemoveLoop(loop, /*remove_series=*/false);
      AddLoop(*it->second);
    } else if (c == TargetChange::kFilter) {
      loop->SetFilter(*it->second);
    }
    plain.erase(it);
  }
  for (const auto& [name, t] : plain) {
    PGW_LOG(Info) << "target " << name << ": added to the config, watching it";
    AddLoop(*t);
  }

  std::vector<ServerState> kept;
  for (ServerState& server : servers_) {
    auto it = server_targets.find(server.config->name);
    const TargetChange c =
        it == server_targets.end() ? TargetChange::kReplace : change(*server.config, *it->second);
    if (c == TargetChange::kReplace) {
      for (const auto& [db, loop] : server.loops) RemoveLoop(loop, /*remove_series=*/true);
      server.loops.clear();
      server.next_discovery = absl::InfinitePast();
    } else if (c == TargetChange::kFilter) {
      for (const auto& [db, loop] : server.loops) loop->SetFilter(*it->second);
    }
    if (it == server_targets.end()) continue;
    server.config = it->second;
    kept.push_back(std::move(server));
    server_targets.erase(it);
  }
  for (const auto& [name, t] : server_targets) {
    ServerState server;
    server.config = t;
    kept.push_back(std::move(server));
  }
  servers_ = std::move(kept);
  bool started = false;
  {
    absl::MutexLock lock(&loops_mu_);
    started = started_;
  }
  if (started && !servers_.empty() && !discovery_.joinable()) {
    discovery_ = std::thread([this] { RunDiscovery(); });
  }
  absl::MutexLock lock(&stop_mu_);
  discovery_wake_ = true;
}

}  // namespace pgwarden
