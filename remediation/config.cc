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
    case ActionKind::kCreateSlot:
      return "create_slot";
    case ActionKind::kDropSlot:
      return "drop_slot";
    case ActionKind::kRestoreRows:
      return "restore_rows";
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

namespace {

// ParseMode reads `mode:` (off, dry-run or enforce).
void ParseMode(const ConfigNode& node, RemediationConfig* out) {
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
}

// ParseActionKind maps a configured action name to its kind; false (with an
// error on a scalar item) for an unknown name.
bool ParseActionKind(const ConfigNode& item, ActionKind* kind) {
  const std::string name = item.AsString();
  if (name == "nologin") {
    *kind = ActionKind::kNologin;
  } else if (name == "revoke_writes") {
    *kind = ActionKind::kRevokeWrites;
  } else if (name == "terminate") {
    *kind = ActionKind::kTerminate;
  } else {
    if (item.IsScalar()) {
      item.Error(
          absl::StrCat("unknown action \"", name, "\" (nologin, revoke_writes or terminate)"));
    }
    return false;
  }
  return true;
}

// ParseActions reads `actions:`, when present, replacing the default list.
void ParseActions(const ConfigNode& node, RemediationConfig* out) {
  if (!node.Has("actions")) return;
  ConfigNode list = node.Child("actions");
  if (!list.IsSequence()) {
    node.ErrorAt("actions", "expected a list of actions (nologin, revoke_writes, terminate)");
    return;
  }
  out->actions.clear();
  for (const ConfigNode& item : list.Items()) {
    ActionKind kind;
    if (!ParseActionKind(item, &kind)) continue;
    if (!out->HasAction(kind)) out->actions.push_back(kind);
  }
}

// ParseLimits reads the guard rails: protected roles, thresholds and timeouts.
void ParseLimits(const ConfigNode& node, RemediationConfig* out) {
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
}

// ParseRunaway reads the `runaway:` section.
void ParseRunaway(const ConfigNode& runaway, RunawayConfig* out) {
  if (!runaway.ExpectMap(false)) return;
  runaway.CheckKeys({"enabled", "idle_in_transaction", "statement", "blocking"});
  out->enabled = runaway.GetBool("enabled", out->enabled);
  out->idle_in_transaction = runaway.GetDuration("idle_in_transaction", out->idle_in_transaction);
  out->statement = runaway.GetDuration("statement", out->statement);
  out->blocking = runaway.GetDuration("blocking", out->blocking);
  const std::pair<const char*, absl::Duration> limits[] = {
      {"idle_in_transaction", out->idle_in_transaction},
      {"statement", out->statement},
      {"blocking", out->blocking}};
  for (const auto& [key, value] : limits) {
    if (value < absl::Seconds(1)) runaway.ErrorAt(key, "must be at least 1s");
  }
}

// ParseInflight reads the `inflight:` section.
void ParseInflight(const ConfigNode& inflight, InflightConfig* out) {
  if (!inflight.ExpectMap(false)) return;
  inflight.CheckKeys({"enabled", "allowed_roles"});
  out->enabled = inflight.GetBool("enabled", out->enabled);
  out->allowed_roles = inflight.GetStringList("allowed_roles", out->allowed_roles);
}

}  // namespace

void ParseRemediationConfig(const ConfigNode& node, RemediationConfig* out) {
  *out = RemediationConfig();
  if (!node.ExpectMap(false)) return;
  node.CheckKeys({"mode", "actions", "protected_roles", "min_confidence", "min_rows",
                  "max_roles_per_hour", "audit_file", "advisory_lock_key", "cancel_grace",
                  "statement_timeout", "runaway", "inflight"});
  ParseMode(node, out);
  ParseActions(node, out);
  ParseLimits(node, out);
  ParseRunaway(node.Child("runaway"), &out->runaway);
  ParseInflight(node.Child("inflight"), &out->inflight);
}

}  // namespace pgwarden
