#include "remediation/config.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace pgwarden {

const char* RemediationModeName(RemediationMode mode) {
  switch (mode) {
    case RemediationMode::kOff:
      return "off";
    case RemediationMode::kDryRun:
      return "dry-run";
    case RemediationMode::kEnforce:
      return "enforce";
  }
  return "?";
}

const char* ActionKindName(ActionKind kind) {
  switch (kind) {
    case ActionKind::kNologin:
      return "nologin";
    case ActionKind::kRevokeWrites:
      return "revoke_writes";
    case ActionKind::kTerminate:
      return "terminate";
    case ActionKind::kCancel:
      return "cancel";
    case ActionKind::kUndo:
      return "undo";
  }
  return "?";
}

bool RemediationConfig::HasAction(ActionKind kind) const {
  for (ActionKind a : actions) {
    if (a == kind) return true;
  }
  return false;
}

std::string RemediationConfig::AuditPath(const std::string& state_dir) const {
  if (!audit_file.empty()) return audit_file;
  return absl::StrCat(state_dir.empty() ? "." : state_dir, "/audit.log");
}

void ParseRemediationConfig(const ConfigNode& node, RemediationConfig* out) {
  *out = RemediationConfig();
  if (!node.ExpectMap(false)) return;
  node.CheckKeys({"mode", "actions", "protected_roles", "min_confidence", "min_rows",
                  "max_roles_per_hour", "audit_file", "advisory_lock_key", "cancel_grace",
                  "statement_timeout", "runaway", "inflight"});

  const std::string mode = node.GetString("mode", "dry-run");
  if (mode == "off") {
    out->mode = RemediationMode::kOff;
  } else if (mode == "dry-run" || mode == "dry_run" || mode == "dryrun") {
    out->mode = RemediationMode::kDryRun;
  } else if (mode == "enforce") {
    out->mode = RemediationMode::kEnforce;
  } else {
    node.ErrorAt("mode", absl::StrCat("unknown mode \"", mode, "\" (off, dry-run or enforce)"));
  }

  if (node.Has("actions")) {
    ConfigNode list = node.Child("actions");
    if (!list.IsSequence()) {
      node.ErrorAt("actions", "expected a list of actions (nologin, revoke_writes, terminate)");
    } else {
      out->actions.clear();
      for (const ConfigNode& item : list.Items()) {
        const std::string name = item.AsString();
        ActionKind kind;
        if (name == "nologin") {
          kind = ActionKind::kNologin;
        } else if (name == "revoke_writes") {
          kind = ActionKind::kRevokeWrites;
        } else if (name == "terminate") {
          kind = ActionKind::kTerminate;
        } else {
          if (item.IsScalar()) {
            item.Error(absl::StrCat("unknown action \"", name,
                                    "\" (nologin, revoke_writes or terminate)"));
          }
          continue;
        }
        if (!out->HasAction(kind)) out->actions.push_back(kind);
      }
    }
  }

  out->protected_roles = node.GetStringList("protected_roles", out->protected_roles);
  out->min_confidence = node.GetDouble("min_confidence", out->min_confidence);
  if (out->min_confidence < 0 || out->min_confidence > 1) {
    node.ErrorAt("min_confidence", "must be between 0 and 1");
  }
  out->min_rows = node.GetInt("min_rows", out->min_rows);
  if (out->min_rows < 0) node.ErrorAt("min_rows", "must not be negative");
  out->max_roles_per_hour = node.GetInt("max_roles_per_hour", out->max_roles_per_hour);
  if (out->max_roles_per_hour < 0) node.ErrorAt("max_roles_per_hour", "must not be negative");
  out->audit_file = node.GetString("audit_file", out->audit_file);
  out->advisory_lock_key = node.GetInt("advisory_lock_key", out->advisory_lock_key);
  out->cancel_grace = node.GetDuration("cancel_grace", out->cancel_grace);
  if (out->cancel_grace > absl::Seconds(30)) node.ErrorAt("cancel_grace", "must be at most 30s");
  out->statement_timeout = node.GetDuration("statement_timeout", out->statement_timeout);
  if (out->statement_timeout < absl::Milliseconds(100)) {
    node.ErrorAt("statement_timeout", "must be at least 100ms");
  }

  ConfigNode runaway = node.Child("runaway");
  if (runaway.ExpectMap(false)) {
    runaway.CheckKeys({"enabled", "idle_in_transaction", "statement", "blocking"});
    out->runaway.enabled = runaway.GetBool("enabled", out->runaway.enabled);
    out->runaway.idle_in_transaction =
        runaway.GetDuration("idle_in_transaction", out->runaway.idle_in_transaction);
    out->runaway.statement = runaway.GetDuration("statement", out->runaway.statement);
    out->runaway.blocking = runaway.GetDuration("blocking", out->runaway.blocking);
    const std::pair<const char*, absl::Duration> limits[] = {
        {"idle_in_transaction", out->runaway.idle_in_transaction},
        {"statement", out->runaway.statement},
        {"blocking", out->runaway.blocking}};
    for (const auto& [key, value] : limits) {
      if (value < absl::Seconds(1)) runaway.ErrorAt(key, "must be at least 1s");
    }
  }
  ConfigNode inflight = node.Child("inflight");
  if (inflight.ExpectMap(false)) {
    inflight.CheckKeys({"enabled", "allowed_roles"});
    out->inflight.enabled = inflight.GetBool("enabled", out->inflight.enabled);
    out->inflight.allowed_roles =
        inflight.GetStringList("allowed_roles", out->inflight.allowed_roles);
  }
}

}  // namespace pgwarden
