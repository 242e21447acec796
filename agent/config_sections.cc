#include "agent/config_sections.h"

#include <unistd.h>

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "core/log.h"

namespace pgwarden::config_sections {
namespace {

std::string HostName() {
  char buf[256] = {0};
  if (::gethostname(buf, sizeof(buf) - 1) != 0) return "pgwarden";
  return buf;
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

}  // namespace

bool ValidName(const std::string& s) {
  if (s.empty() || s.size() > 63) return false;
  for (char c : s) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-' && c != '.') {
      return false;
    }
  }
  return true;
}

// ParseGlobals reads the top-level scalar settings into *cfg.
void ParseGlobals(const ConfigNode& top, AgentConfig* cfg) {
  cfg->environment = top.GetString("environment", cfg->environment);
  if (!ValidName(cfg->environment)) {
    top.ErrorAt("environment", "must be 1-63 characters of letters, digits, '_', '-' or '.'");
  }
  cfg->instance = top.GetString("instance", HostName());
  cfg->listen = top.GetString("listen", cfg->listen);
  cfg->web_config_file = top.GetString("web_config_file", cfg->web_config_file);
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
  cfg->log_format = top.GetString("log_format", cfg->log_format);
  LogFormat format;
  if (!ParseLogFormat(cfg->log_format, &format)) {
    top.ErrorAt("log_format", "expected text, logfmt or json");
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
void ParseWeb(const ConfigNode& top, AgentConfig* cfg) {
  HttpLimits* out = &cfg->web;
  ConfigNode w = top.Child("web");
  if (!w.IsDefined() || !w.ExpectMap()) return;
  w.CheckKeys({"max_connections", "max_connections_per_client", "read_header_timeout",
               "idle_timeout", "enable_lifecycle"});
  cfg->enable_lifecycle = w.GetBool("enable_lifecycle", cfg->enable_lifecycle);
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

}  // namespace pgwarden::config_sections
