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
#include "core/config_node.h"
#include "core/log.h"

namespace pgwarden {
namespace {

bool ValidName(const std::string& s) {
  if (s.empty() || s.size() > 63) return false;
  for (char c : s) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-' && c != '.') {
      return false;
    }
  }
  return true;
}

}  // namespace

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
    if (!ValidName(t->name)) {
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

std::string HostName() {
  char buf[256] = {0};
  if (::gethostname(buf, sizeof(buf) - 1) != 0) return "pgwarden";
  return buf;
}

// ParseGlobals reads the top-level scalar settings into *cfg.
void ParseGlobals(const ConfigNode& top, AgentConfig* cfg) {
  cfg->environment = top.GetString("environment", cfg->environment);
  if (!ValidName(cfg->environment)) {
    top.ErrorAt("environment", "must be 1-63 characters of letters, digits, '_', '-' or '.'");
  }
  cfg->instance = top.GetString("instance", HostName());
  cfg->listen = top.GetString("listen", cfg->listen);
  cfg->interval = top.GetDuration("interval", cfg->interval);
  if (cfg->interval < absl::Milliseconds(100)) top.ErrorAt("interval", "must be at least 100ms");
  if (cfg->interval > absl::Hours(1)) top.ErrorAt("interval", "must be at most 1h");
  cfg->fast_interval =
      top.GetDuration("fast_interval", std::min(cfg->fast_interval, cfg->interval));
  if (cfg->fast_interval < absl::Milliseconds(50)) {
    top.ErrorAt("fast_interval", "must be at least 50ms");
  } else if (cfg->fast_interval > cfg->interval) {
    top.ErrorAt("fast_interval", "must not be longer than interval");
  }
  cfg->log_level = top.GetString("log_level", cfg->log_level);
  LogLevel level;
  if (!ParseLogLevel(cfg->log_level, &level)) {
    top.ErrorAt("log_level", "expected debug, info, warning or error");
  }
  cfg->state_dir = top.GetString("state_dir", cfg->state_dir);
  cfg->reconnect_max_backoff = top.GetDuration("reconnect_max_backoff", cfg->reconnect_max_backoff);
  if (cfg->reconnect_max_backoff < absl::Seconds(1)) {
    top.ErrorAt("reconnect_max_backoff", "must be at least 1s");
  }
}

// ParseMetrics reads `metrics.per_table`: all, top:N or anomalous (default:
// all up to 10,000 tables per database, then top:1000).
void ParseMetrics(const ConfigNode& top, PerTableMetrics* out) {
  ConfigNode m = top.Child("metrics");
  if (!m.IsDefined() || !m.ExpectMap()) return;
  m.CheckKeys({"per_table"});
  const std::string v = m.GetString("per_table", "");
  int n = 0;
  if (v.empty()) return;
  if (v == "all") {
    out->mode = PerTableMetrics::Mode::kAll;
  } else if (v == "anomalous") {
    out->mode = PerTableMetrics::Mode::kAnomalous;
  } else if (absl::StartsWith(v, "top:") && absl::SimpleAtoi(v.substr(4), &n) && n > 0) {
    out->mode = PerTableMetrics::Mode::kTop;
    out->top = n;
  } else {
    m.ErrorAt("per_table", absl::StrCat("\"", v, "\": expected all, top:N (N > 0) or anomalous"));
  }
}

// ParseWeb reads `web`: the HTTP endpoint's connection limits and timeouts.
void ParseWeb(const ConfigNode& top, HttpLimits* out) {
  ConfigNode w = top.Child("web");
  if (!w.IsDefined() || !w.ExpectMap()) return;
  w.CheckKeys(
      {"max_connections", "max_connections_per_client", "read_header_timeout", "idle_timeout"});
  const int64_t total = w.GetInt("max_connections", out->max_connections);
  if (total < 1 || total > 1000000) w.ErrorAt("max_connections", "must be 1 to 1000000");
  out->max_connections = static_cast<int>(std::clamp<int64_t>(total, 1, 1000000));
  const int64_t each = w.GetInt("max_connections_per_client", out->max_connections_per_client);
  if (each < 1 || each > 1000000) {
    w.ErrorAt("max_connections_per_client", "must be 1 to 1000000");
  }
  out->max_connections_per_client = static_cast<int>(std::clamp<int64_t>(each, 1, 1000000));
  out->read_header_timeout = w.GetDuration("read_header_timeout", out->read_header_timeout);
  if (out->read_header_timeout < absl::Milliseconds(100)) {
    w.ErrorAt("read_header_timeout", "must be at least 100ms");
  }
  out->idle_timeout = w.GetDuration("idle_timeout", out->idle_timeout);
  if (out->idle_timeout < absl::Seconds(1)) w.ErrorAt("idle_timeout", "must be at least 1s");
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

// ParseIncidents reads the `incidents:` section.
void ParseIncidents(const ConfigNode& top, AgentConfig* cfg) {
  ConfigNode inc = top.Child("incidents");
  if (!inc.IsDefined() || !inc.ExpectMap()) return;
  inc.CheckKeys({"resolve_after", "aftermath_window", "update_interval"});
  cfg->resolve_after = inc.GetDuration("resolve_after", cfg->resolve_after);
  if (cfg->resolve_after < absl::Seconds(1)) inc.ErrorAt("resolve_after", "must be at least 1s");
  cfg->aftermath_window = inc.GetDuration("aftermath_window", cfg->aftermath_window);
  if (cfg->aftermath_window < absl::ZeroDuration()) {
    inc.ErrorAt("aftermath_window", "must not be negative");
  }
  cfg->incident_update_interval = inc.GetDuration("update_interval", cfg->incident_update_interval);
  if (cfg->incident_update_interval < absl::ZeroDuration()) {
    inc.ErrorAt("update_interval", "must not be negative");
  }
}

// ParseBackup reads the `backup:` section.
void ParseBackup(const ConfigNode& top, AgentConfig* cfg) {
  ConfigNode backup = top.Child("backup");
  if (!backup.IsDefined() || !backup.ExpectMap()) return;
  backup.CheckKeys({"max_archive_age"});
  cfg->max_archive_age = backup.GetDuration("max_archive_age", cfg->max_archive_age);
  if (cfg->max_archive_age < absl::Minutes(1)) {
    backup.ErrorAt("max_archive_age", "must be at least 1m");
  }
}

// ParseBytes reads "256MiB", "1GiB", "500MB" or a plain number of bytes.
bool ParseBytes(const std::string& text, uint64_t* out) {
  static const std::pair<const char*, uint64_t> kUnits[] = {{"KiB", 1ULL << 10},
                                                            {"MiB", 1ULL << 20},
                                                            {"GiB", 1ULL << 30},
                                                            {"KB", 1000},
                                                            {"MB", 1000000},
                                                            {"GB", 1000000000},
                                                            {"B", 1}};
  for (const auto& [unit, scale] : kUnits) {
    absl::string_view v(text);
    if (!absl::ConsumeSuffix(&v, unit)) continue;
    uint64_t n = 0;
    if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(v), &n)) return false;
    *out = n * scale;
    return true;
  }
  return absl::SimpleAtoi(text, out);
}

// ParseJournal reads the `journal:` and `restore:` sections.
void ParseJournal(const ConfigNode& top, AgentConfig* cfg) {
  ConfigNode restore = top.Child("restore");
  if (restore.IsDefined() && restore.ExpectMap()) {
    restore.CheckKeys({"dsn", "dsn_env", "dsn_file"});
    cfg->restore_dsn = ReadSecret(restore, "dsn", /*required=*/false);
  }
  ConfigNode journal = top.Child("journal");
  if (!journal.IsDefined() || !journal.ExpectMap()) return;
  journal.CheckKeys({"enabled", "max_bytes", "max_age"});
  cfg->journal_enabled = journal.GetBool("enabled", cfg->journal_enabled);
  const std::string bytes = journal.GetString("max_bytes", "");
  if (!bytes.empty() && !ParseBytes(bytes, &cfg->journal_max_bytes)) {
    journal.ErrorAt("max_bytes", "expected a size such as 256MiB, 1GiB or a number of bytes");
  }
  if (cfg->journal_max_bytes < (1ULL << 20)) journal.ErrorAt("max_bytes", "must be at least 1MiB");
  cfg->journal_max_age = journal.GetDuration("max_age", cfg->journal_max_age);
  if (cfg->journal_max_age < absl::Minutes(1)) journal.ErrorAt("max_age", "must be at least 1m");
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
  top.CheckKeys({"environment", "instance", "listen", "interval", "fast_interval", "log_level",
                 "state_dir", "reconnect_max_backoff", "targets", "detectors", "incidents",
                 "maintenance", "alerting", "remediation", "backup", "journal", "restore",
                 "metrics", "web"});
  ParseGlobals(top, &cfg);
  ParseTargets(top, &cfg.targets);
  ParseDetectors(top, &cfg.detectors);
  ParseIncidents(top, &cfg);
  ParseBackup(top, &cfg);
  ParseJournal(top, &cfg);
  ParseMetrics(top, &cfg.per_table);
  ParseWeb(top, &cfg.web);
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
  return ParseConfig(ss.str(), path);
}

}  // namespace pgwarden
