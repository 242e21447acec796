// `pgwarden undo ID --config FILE`: reverses one audited remediation action.

#include <fstream>
#include <iostream>
#include <pqxx/pqxx>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "agent/cli.h"
#include "agent/config.h"
#include "core/clock.h"
#include "remediation/audit.h"
#include "remediation/remediator.h"

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
  // Find the action's target in the audit file.
  std::ifstream in(audit_path);
  if (!in) {
    std::cerr << "pgwarden undo: cannot read audit file " << audit_path << "\n";
    return kExitFailure;
  }
  std::string line;
  std::string target;
  int line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded()) {
      std::cerr << "pgwarden undo: " << audit_path << ":" << line_no
                << ": not a JSON line, skipped\n";
      continue;
    }
    absl::StatusOr<AuditRecord> rec = AuditRecord::FromJson(j);
    if (rec.ok() && rec->id == id) target = rec->target;
  }
  if (target.empty()) {
    std::cerr << "pgwarden undo: no action " << id << " in " << audit_path << "\n";
    return kExitFailure;
  }
  const TargetConfig* tc = nullptr;
  for (const TargetConfig& t : cfg->targets) {
    if (t.name == target) tc = &t;
  }
  if (tc == nullptr) {
    std::cerr << "pgwarden undo: action " << id << " is for target \"" << target
              << "\", which is not in " << cfg->path << "\n";
    return kExitFailure;
  }
  try {
    pqxx::connection conn(tc->dsn);
    absl::StatusOr<AuditRecord> done = Undo(conn, audit_path, id, RealClock::Get());
    if (!done.ok()) {
      std::cerr << "pgwarden undo: " << done.status().message() << "\n";
      return kExitFailure;
    }
    std::cout << "undid action " << id << " on target " << target << ": " << done->sql << "\n"
              << "audited as action " << done->id << " in " << audit_path << "\n";
  } catch (const std::exception& e) {
    std::cerr << "pgwarden undo: cannot connect to target " << target << ": " << e.what() << "\n";
    return kExitFailure;
  }
  return kExitOk;
}

}  // namespace pgwarden
