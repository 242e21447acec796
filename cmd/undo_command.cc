// `pgwarden undo ID --config FILE`: reverses one audited remediation action.

#include <iostream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "agent/config.h"
#include "agent/discovery.h"
#include "cmd/cli.h"
#include "core/clock.h"
#include "pg/connect.h"
#include "remediation/audit.h"
#include "remediation/undo.h"

namespace pgwarden {

int UndoCommand(const ParsedArgs& args) {
  int64_t id = 0;
  if (args.positional.size() != 1 || !absl::SimpleAtoi(args.positional[0], &id) || id <= 0) {
    std::cerr << "pgwarden undo: expected the action ID (a positive number from the audit file)\n";
    return kExitUsage;
  }
  if (!args.Has("config")) {
    std::cerr << "pgwarden undo: --config FILE is required\n";
    return kExitUsage;
  }
  absl::StatusOr<AgentConfig> cfg = LoadConfig(args.Get("config"));
  if (!cfg.ok()) {
    std::cerr << "pgwarden undo: " << cfg.status().message() << "\n";
    return kExitUsage;
  }
  const std::string audit_path = cfg->remediation.AuditPath(cfg->state_dir);
  // The action's target (whose database to connect to), from the audit file.
  absl::StatusOr<AuditRecord> action = AuditLog::Find(audit_path, id);
  if (!action.ok()) {
    std::cerr << "pgwarden undo: " << action.status().message() << "\n";
    return kExitFailure;
  }
  const std::string& target = action->target;
  absl::StatusOr<TargetConfig> resolved = ResolveTarget(*cfg, target);
  if (!resolved.ok()) {
    std::cerr << "pgwarden undo: action " << id << " is for target \"" << target
              << "\", which is not in " << cfg->path << ": " << resolved.status().message() << "\n";
    return kExitFailure;
  }
  const TargetConfig* tc = &*resolved;
  pg::ConnectOptions options;
  options.application_name = "pgwarden-undo";
  options.connect_timeout = tc->connect_timeout;
  absl::StatusOr<std::unique_ptr<pg::Session>> conn = pg::Connect(tc->dsn, options);
  if (!conn.ok()) {
    std::cerr << "pgwarden undo: cannot connect to target " << target << ": "
              << conn.status().message() << "\n";
    return kExitFailure;
  }
  absl::StatusOr<AuditRecord> done = Undo(**conn, audit_path, id, RealClock::Get());
  if (!done.ok()) {
    std::cerr << "pgwarden undo: " << done.status().message() << "\n";
    return kExitFailure;
  }
  std::cout << "undid action " << id << " on target " << target << ": " << done->sql << "\n"
            << "audited as action " << done->id << " in " << audit_path << "\n";
  return kExitOk;
}

}  // namespace pgwarden
