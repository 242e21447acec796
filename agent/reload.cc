#include "agent/reload.h"

#include <set>

namespace pgwarden {

std::string ConfigSection(const AgentConfig& config, const std::string& key) {
  auto it = config.sections.find(key);
  return it == config.sections.end() ? std::string() : it->second;
}

absl::StatusOr<DetectorFactories> MakeDetectorFactories(const DetectorsConfig& d) {
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

ReloadPlan PlanReload(const AgentConfig& running, AgentConfig* next) {
  ReloadPlan plan;
  std::set<std::string> keys;
  for (const auto& kv : running.sections) keys.insert(kv.first);
  for (const auto& kv : next->sections) keys.insert(kv.first);
  static const std::set<std::string> kRestartOnly = {
      "environment", "instance",  "listen",  "state_dir", "interval", "fast_interval",
      "web",         "incidents", "journal", "backup",    "restore",  "web_config_file"};
  for (const std::string& key : keys) {
    if (ConfigSection(running, key) == ConfigSection(*next, key)) continue;
    plan.changed.push_back(key);
    if (kRestartOnly.count(key) > 0) plan.restart_only.push_back(key);
  }
  plan.detectors_changed = ConfigSection(running, "detectors") != ConfigSection(*next, "detectors");
  plan.remediation_changed =
      ConfigSection(running, "remediation") != ConfigSection(*next, "remediation");
  // Every restart-only setting keeps its running value, changed or not
  // (their defaults are the same in both).
  next->environment = running.environment;
  next->instance = running.instance;
  next->listen = running.listen;
  next->state_dir = running.state_dir;
  next->interval = running.interval;
  next->fast_interval = running.fast_interval;
  next->web = running.web;
  next->web_config_file = running.web_config_file;
  next->enable_lifecycle = running.enable_lifecycle;
  next->resolve_after = running.resolve_after;
  next->aftermath_window = running.aftermath_window;
  next->incident_update_interval = running.incident_update_interval;
  next->journal_enabled = running.journal_enabled;
  next->journal_max_bytes = running.journal_max_bytes;
  next->journal_max_age = running.journal_max_age;
  next->max_archive_age = running.max_archive_age;
  next->restore_dsn = running.restore_dsn;
  for (const std::string& key : plan.restart_only)
    next->sections[key] = ConfigSection(running, key);
  return plan;
}

TargetChange CompareTarget(const TargetConfig& running, const TargetConfig& next) {
  if (running.fingerprint != next.fingerprint) return TargetChange::kReplace;
  if (running.include != next.include || running.exclude != next.exclude) {
    return TargetChange::kFilter;
  }
  return TargetChange::kSame;
}

}  // namespace pgwarden
