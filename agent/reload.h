#ifndef PGWARDEN_AGENT_RELOAD_H_
#define PGWARDEN_AGENT_RELOAD_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "agent/config.h"
#include "signals/table_watch.h"

namespace pgwarden {

// ReloadPlan is what a re-read config changes in the running agent.
struct ReloadPlan {
  // restart_only names the changed top-level keys that take effect at the
  // next restart (the endpoint, the state directory, the labels every
  // series carries, the tick, incident timing, the journal and the WAL
  // archive check); PlanReload keeps their running values.
  std::vector<std::string> restart_only;
  // detectors_changed: every loop starts with new detectors (their learned
  // baselines restart).
  bool detectors_changed = false;
  // remediation_changed: each loop's Remediator is rebuilt on its next use.
  bool remediation_changed = false;
  // changed names every top-level key whose text changed (for the log).
  std::vector<std::string> changed;
};

// MakeDetectorFactories builds the detectors the `detectors:` section
// names (an unknown detector or parameter fails).
absl::StatusOr<DetectorFactories> MakeDetectorFactories(const DetectorsConfig& d);

// ConfigSection is a top-level key's text in `config` ("" when absent).
std::string ConfigSection(const AgentConfig& config, const std::string& key);

// PlanReload compares the running config with the one just read, and copies
// into *next the running values of the settings that apply only at restart.
ReloadPlan PlanReload(const AgentConfig& running, AgentConfig* next);

// TargetChange is how one target (matched by name) changed.
enum class TargetChange {
  kSame,
  // kFilter: only its `tables` include/exclude changed; the loop keeps
  // its state and re-reads its tables with the new filter.
  kFilter,
  // kReplace: anything else (DSN, timeouts, change stream, server log,
  // databases): the loop is replaced.
  kReplace,
};
TargetChange CompareTarget(const TargetConfig& running, const TargetConfig& next);

}  // namespace pgwarden

#endif  // PGWARDEN_AGENT_RELOAD_H_
