#include "agent/config.h"

#include <fnmatch.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "agent/config_secrets.h"
#include "agent/config_sections.h"
#include "core/config_node.h"
#include "core/log.h"

namespace pgwarden {

std::string DefaultSlotName(const std::string& target) {
  std::string slot = "pgwarden_";
  for (char c : target) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
    slot.push_back(ok ? c : (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : '_');
  }
  return slot.substr(0, 63);
}

namespace {

// ParseDatabases reads a server target's `databases` and
// `discovery_interval`.
void ParseDatabases(const ConfigNode& node, TargetConfig* t) {
  ConfigNode dbs = node.Child("databases");
  if (!dbs.IsDefined()) {
    if (node.Child("discovery_interval").IsDefined()) {
      node.ErrorAt("discovery_interval", "applies only to a target with `databases`");
    }
    return;
  }
  if (!dbs.ExpectMap()) return;
  dbs.CheckKeys({"include", "exclude"});
  DatabaseSelection sel;
  sel.include = dbs.GetStringList("include", {"*"});
  sel.exclude = dbs.GetStringList("exclude", {});
  sel.discovery_interval = node.GetDuration("discovery_interval", sel.discovery_interval);
  if (sel.include.empty()) dbs.ErrorAt("include", "must name at least one glob (\"*\": all)");
  if (sel.discovery_interval < absl::Seconds(1)) {
    node.ErrorAt("discovery_interval", "must be at least 1s");
  }
  t->databases = std::move(sel);
}

void ParseTarget(const ConfigNode& node, std::set<std::string>* names, TargetConfig* t) {
  if (!node.ExpectMap(true)) return;
  node.CheckKeys({"name", "dsn", "dsn_env", "dsn_file", "tables", "connect_timeout",
                  "statement_timeout", "server_log", "change_stream", "fast_path", "databases",
                  "discovery_interval"});
  t->name = node.GetRequiredString("name");
  if (!t->name.empty()) {
    if (!config_sections::ValidName(t->name)) {
      node.ErrorAt("name", "must be 1-63 characters of letters, digits, '_', '-' or '.'");
    } else if (!names->insert(t->name).second) {
      node.ErrorAt("name", absl::StrCat("duplicate target name \"", t->name, "\""));
    }
  }
  t->dsn = ReadSecret(node, "dsn", /*required=*/true);
  ConfigNode tables = node.Child("tables");
  if (tables.IsDefined() && tables.ExpectMap()) {
    tables.CheckKeys({"include", "exclude"});
    t->include = tables.GetStringList("include", {});
    t->exclude = tables.GetStringList("exclude", {});
  }
  t->connect_timeout = node.GetDuration("connect_timeout", t->connect_timeout);
  t->statement_timeout = node.GetDuration("statement_timeout", t->statement_timeout);
  t->server_log = node.GetString("server_log", "");
  t->fast_path = node.GetBool("fast_path", t->fast_path);
  ConfigNode cs = node.Child("change_stream");
  if (cs.IsDefined() && cs.ExpectMap()) {
    cs.CheckKeys({"enabled", "slot", "allow_unbounded_retention"});
    t->change_stream.enabled = cs.GetBool("enabled", false);
    t->change_stream.slot = cs.GetString("slot", "");
    t->change_stream.allow_unbounded_retention = cs.GetBool("allow_unbounded_retention", false);
    const std::string& slot = t->change_stream.slot;
    if (!slot.empty() &&
        (slot.size() > 63 ||
         slot.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_") != std::string::npos)) {
      cs.ErrorAt("slot", "must be 1-63 characters of lower-case letters, digits or '_'");
    }
  }
  if (t->change_stream.slot.empty()) t->change_stream.slot = DefaultSlotName(t->name);
  ParseDatabases(node, t);
  // What a reload compares: the entry as written but its `tables`, and the
  // DSN it resolved to (dsn_env and dsn_file change outside the file).
  YAML::Node rest = YAML::Clone(node.raw());
  rest.remove("tables");
  t->fingerprint = absl::StrCat(YAML::Dump(rest), "\n", t->dsn);
  if (t->connect_timeout < absl::Seconds(1)) node.ErrorAt("connect_timeout", "must be at least 1s");
  if (t->statement_timeout < absl::Milliseconds(10)) {
    node.ErrorAt("statement_timeout", "must be at least 10ms");
  }
}

// ParseSignal reads one signal's detector and its parameters; `own` keys
// belong to the caller (read by it) and are not detector parameters, and
// a signal with own keys keeps its default parameters unless set (or the
// detector changes).
void ParseSignal(const ConfigNode& parent, absl::string_view key, SignalConfig* sig,
                 const std::vector<std::string>& own = {}) {
  ConfigNode node = parent.Child(key);
  if (!node.IsDefined() || !node.ExpectMap()) return;
  DetectorParams params = own.empty() ? DetectorParams{} : sig->params;
  std::string detector = sig->detector;
  for (auto it = node.raw().begin(); it != node.raw().end(); ++it) {
    const std::string k = it->first.Scalar();
    if (std::find(own.begin(), own.end(), k) != own.end()) continue;
    if (!it->second.IsScalar()) {
      node.ErrorAt(k, "expected a scalar value");
      continue;
    }
    if (k == "detector") {
      if (detector != it->second.Scalar()) params.clear();
      detector = it->second.Scalar();
    } else {
      params[k] = it->second.Scalar();
    }
  }
  absl::StatusOr<std::shared_ptr<const DetectorFactory>> f = MakeDetectorFactory(detector, params);
  if (!f.ok()) {
    node.Error(std::string(f.status().message()));
    return;
  }
  sig->detector = detector;
  sig->params = std::move(params);
}

int ParseWeekday(const std::string& s) {
  static const char* kDays[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};
  const std::string l = absl::AsciiStrToLower(s).substr(0, 3);
  for (int i = 0; i < 7; ++i) {
    if (l == kDays[i]) return i;
  }
  return -1;
}

void ParseMaintenance(const ConfigNode& node, MaintenanceConfig* m) {
  if (!node.IsDefined() || !node.ExpectMap()) return;
  node.CheckKeys({"timezone", "windows", "allowed_roles"});
  m->timezone = node.GetString("timezone", m->timezone);
  absl::TimeZone tz;
  if (!absl::LoadTimeZone(m->timezone, &tz)) node.ErrorAt("timezone", "unknown time zone");
  m->allowed_roles = node.GetStringList("allowed_roles", {});
  for (const ConfigNode& w : node.Child("windows").Items()) {
    if (!w.ExpectMap(true)) continue;
    w.CheckKeys({"name", "days", "start", "duration", "targets", "tables"});
    MaintenanceWindow win;
    win.name = w.GetString("name", absl::StrCat("window-", m->windows.size() + 1));
    for (const std::string& d : w.GetStringList("days", {})) {
      const int day = ParseWeekday(d);
      if (day < 0) {
        w.ErrorAt("days", absl::StrCat("unknown day \"", d, "\" (use mon, tue, ... sun)"));
      } else {
        win.weekdays.push_back(day);
      }
    }
    const std::string start = w.GetRequiredString("start");
    std::vector<std::string> hm = absl::StrSplit(start, ':');
    int h = -1, mi = -1;
    if (!start.empty() && (hm.size() != 2 || !absl::SimpleAtoi(hm[0], &h) ||
                           !absl::SimpleAtoi(hm[1], &mi) || h < 0 || h > 23 || mi < 0 || mi > 59)) {
      w.ErrorAt("start", "expected HH:MM (24-hour clock)");
    } else if (!start.empty()) {
      win.start_minute = h * 60 + mi;
    }
    win.duration = w.GetDuration("duration", win.duration);
    if (win.duration <= absl::ZeroDuration() || win.duration > absl::Hours(24 * 7)) {
      w.ErrorAt("duration", "must be between 1s and 7 days");
    }
    win.targets = w.GetStringList("targets", {});
    win.tables = w.GetStringList("tables", {});
    m->windows.push_back(std::move(win));
  }
}

// ParseTargets reads the `targets:` list (required, not empty).
void ParseTargets(const ConfigNode& top, std::vector<TargetConfig>* out) {
  ConfigNode targets = top.Child("targets");
  if (!targets.IsDefined()) {
    top.ErrorAt("targets", "missing: name at least one database to watch");
  } else if (!targets.IsSequence()) {
    targets.Error("expected a list of targets");
  } else if (targets.raw().size() == 0) {
    targets.Error("must name at least one database to watch");
  }
  std::set<std::string> names;
  for (const ConfigNode& t : targets.IsSequence() ? targets.Items() : std::vector<ConfigNode>{}) {
    TargetConfig tc;
    ParseTarget(t, &names, &tc);
    out->push_back(std::move(tc));
  }
}

// ParseUpdateRate reads `detectors.update_rate`: the detector of rows
// updated per second and the burst gate (min_share, min_rows, min_ratio).
void ParseUpdateRate(const ConfigNode& det, DetectorsConfig* detectors) {
  ParseSignal(det, "update_rate", &detectors->update_rate, {"min_share", "min_rows", "min_ratio"});
  ConfigNode node = det.Child("update_rate");
  if (!node.IsDefined() || !node.raw().IsMap()) return;
  UpdateGate& g = detectors->update_gate;
  g.min_share = node.GetDouble("min_share", g.min_share);
  if (g.min_share < 0 || g.min_share > 1) node.ErrorAt("min_share", "must be between 0 and 1");
  g.min_rows = node.GetInt("min_rows", g.min_rows);
  if (g.min_rows < 0) node.ErrorAt("min_rows", "must not be negative");
  g.min_ratio = node.GetDouble("min_ratio", g.min_ratio);
  if (g.min_ratio < 1) node.ErrorAt("min_ratio", "must be at least 1");
}

// ParseDetectors reads the `detectors:` section, one signal per key.
void ParseDetectors(const ConfigNode& top, DetectorsConfig* detectors) {
  ConfigNode det = top.Child("detectors");
  if (det.IsDefined() && det.ExpectMap()) {
    det.CheckKeys({"rows", "delete_rate", "rollback_ratio", "failed_logins", "update_rate"});
    ParseSignal(det, "rows", &detectors->rows);
    ParseSignal(det, "delete_rate", &detectors->delete_rate);
    ParseSignal(det, "rollback_ratio", &detectors->rollback_ratio);
    ParseSignal(det, "failed_logins", &detectors->failed_logins);
    ParseUpdateRate(det, detectors);
  }
}

// ParseActionSections reads `alerting:` and `remediation:` (the latter's
// defaults apply when it is absent).
void ParseActionSections(const ConfigNode& top, AgentConfig* cfg) {
  ConfigNode alerting = top.Child("alerting");
  if (alerting.IsDefined() && alerting.ExpectMap()) ParseAlertingConfig(alerting, &cfg->alerting);
  ConfigNode remediation = top.Child("remediation");
  // Absent: the defaults apply; present but not a map: an error, nothing parsed.
  if (!remediation.IsDefined() || remediation.ExpectMap()) {
    ParseRemediationConfig(remediation, &cfg->remediation);
  }
}

}  // namespace

absl::StatusOr<AgentConfig> ParseConfig(const std::string& text, const std::string& path) {
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(path, ":", e.mark.line + 1, ":",
                                                   e.mark.column + 1, ": invalid YAML: ", e.msg));
  }
  ConfigErrors errors(path);
  ConfigNode top(root, "", &errors);
  AgentConfig cfg;
  cfg.path = path;
  if (!top.IsMap()) {
    top.Error("the config file must be a YAML mapping with at least `targets:`");
    return errors.ToStatus();
  }
  top.CheckKeys({"environment", "instance",      "listen",
                 "interval",    "fast_interval", "log_level",
                 "log_format",  "state_dir",     "reconnect_max_backoff",
                 "targets",     "detectors",     "incidents",
                 "maintenance", "alerting",      "remediation",
                 "backup",      "journal",       "restore",
                 "metrics",     "web",           "web_config_file"});
  for (const auto& kv : root) cfg.sections[kv.first.Scalar()] = YAML::Dump(kv.second);
  config_sections::ParseGlobals(top, &cfg);
  ParseTargets(top, &cfg.targets);
  ParseDetectors(top, &cfg.detectors);
  config_sections::ParseIncidents(top, &cfg);
  config_sections::ParseBackup(top, &cfg);
  config_sections::ParseJournal(top, &cfg);
  config_sections::ParseMetrics(top, &cfg.per_table);
  config_sections::ParseWeb(top, &cfg);
  ParseMaintenance(top.Child("maintenance"), &cfg.maintenance);
  ParseActionSections(top, &cfg);

  if (!errors.empty()) return errors.ToStatus();
  return cfg;
}

absl::StatusOr<AgentConfig> LoadConfig(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot read config file"));
  std::stringstream ss;
  ss << in.rdbuf();
  absl::StatusOr<AgentConfig> cfg = ParseConfig(ss.str(), path);
  if (cfg.ok()) RegisterConfigSecrets(*cfg);
  return cfg;
}

}  // namespace pgwarden
