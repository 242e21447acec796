#ifndef PGWARDEN_AGENT_CONFIG_H_
#define PGWARDEN_AGENT_CONFIG_H_

#include <atomic>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "alerting/config.h"
#include "detectors/detector.h"
#include "exporters/http_limits.h"
#include "remediation/config.h"
#include "signals/update_spike.h"

namespace pgwarden {

// ChangeStreamConfig turns on logical decoding of a target's WAL (opt-in).
struct ChangeStreamConfig {
  bool enabled = false;
  // slot is the logical replication slot; default pgwarden_<target name>
  // (characters other than [a-z0-9_] become '_').
  std::string slot;
  // allow_unbounded_retention lets the agent create its slot although
  // max_slot_wal_keep_size is -1 (a slot nobody reads then keeps WAL until
  // the disk is full).
  bool allow_unbounded_retention = false;
};

// DatabaseSelection picks the databases of a server target: globs on the
// database name, read from pg_database (templates and databases that do
// not allow connections are never watched).
struct DatabaseSelection {
  std::vector<std::string> include;
  std::vector<std::string> exclude;
  absl::Duration discovery_interval = absl::Seconds(30);
};

// TargetConfig is one watched database, or a server whose databases are
// discovered (`databases`).
struct TargetConfig {
  // name is the target's id (core/target_id.h): the config entry's name, or
  // "name/database" for one database of a server target.
  std::string name;
  // databases is set on a server target's config entry; its dsn names the
  // database discovery connects to (default: libpq's).
  std::optional<DatabaseSelection> databases;
  // database is set on one database of a server target (the metric label).
  std::string database;
  // dsn is the libpq connection string (from dsn, dsn_env or dsn_file). It
  // may hold a password: never log it unredacted.
  std::string dsn;
  std::vector<std::string> include;  // globs on "schema.table"; empty = all
  std::vector<std::string> exclude;
  absl::Duration connect_timeout = absl::Seconds(5);
  absl::Duration statement_timeout = absl::Seconds(5);
  // server_log: the PostgreSQL server log (stderr or csvlog format, English
  // messages) read for failed logins; "" = not read.
  std::string server_log;
  ChangeStreamConfig change_stream;
  // fingerprint is the config entry as written but its `tables`, and the
  // DSN it resolved to: a reload keeps the loop of a target whose
  // fingerprint stayed the same.
  std::string fingerprint;
  // fast_path: read pg_stat_statements counters and look for sessions that
  // commit inside one statement on every fast tick.
  bool fast_path = true;
};

// DefaultSlotName returns pgwarden_<target> folded to a valid slot name.
std::string DefaultSlotName(const std::string& target);

// SignalConfig picks the detector (and its parameters) for one signal.
struct SignalConfig {
  std::string detector;
  DetectorParams params;
};

// DetectorsConfig holds one SignalConfig per signal the agent watches.
struct DetectorsConfig {
  SignalConfig rows{"level_drop", {}};
  SignalConfig delete_rate{"rate_spike", {}};
  SignalConfig rollback_ratio{"ratio", {}};
  // Failed logins per second: a storm is at least 5/s and 5/s above normal
  // (25/s alerts even while the baseline warms up).
  SignalConfig failed_logins{"rate_spike",
                             {{"min_rate", "5"}, {"min_excess", "5"}, {"hard_rate", "25"}}};
  // Rows updated per second per table: at least 500/s and 500/s above
  // normal, after 10 samples; no hard rate (a hot table updated 20,000
  // times a second all day is normal). update_gate (keys min_share,
  // min_rows, min_ratio of the same section) asks the burst to be several
  // times the usual rate and to rewrite a share of the table.
  SignalConfig update_rate{
      "rate_spike",
      {{"min_rate", "500"}, {"min_excess", "500"}, {"warmup", "10"}, {"hard_rate", "0"}}};
  UpdateGate update_gate;
};

// MaintenanceWindow silences pages on matching tables during a daily window.
struct MaintenanceWindow {
  std::string name;
  std::vector<int> weekdays;  // 0 = Sunday .. 6 = Saturday; empty = every day
  int start_minute = 0;       // minutes after midnight in `timezone`
  absl::Duration duration = absl::Hours(1);
  std::vector<std::string> targets;  // empty = all
  std::vector<std::string> tables;   // globs on "schema.table"; empty = all
};

// MaintenanceConfig declares when bulk deletes are expected.
struct MaintenanceConfig {
  std::string timezone = "UTC";
  std::vector<MaintenanceWindow> windows;
  // allowed_roles may delete in bulk without a page (needs attribution).
  std::vector<std::string> allowed_roles;
};

// PerTableMetrics bounds the per-table series a target exports; detection
// covers every table whatever is exported.
struct PerTableMetrics {
  // kAuto: kAll up to kAutoLimit tables, then kTop with top = 1000.
  // kTop: the `top` largest tables by live rows and every table whose
  // score is not 0. kAnomalous: only tables whose score is not 0.
  enum class Mode { kAuto, kAll, kTop, kAnomalous };
  static constexpr int kAutoLimit = 10000;
  Mode mode = Mode::kAuto;
  int top = 1000;
};

// AgentConfig is the whole configuration file.
struct AgentConfig {
  std::string path;
  // sections: each top-level key's value as written (YAML), which a reload
  // compares with the running config's.
  std::map<std::string, std::string> sections;
  std::string environment = "production";
  std::string instance;  // defaults to the host name
  std::string listen = "127.0.0.1:9331";
  absl::Duration interval = absl::Seconds(1);
  // fast_interval: the tick of the change stream, the statement counters and
  // the session guard (at most `interval`).
  absl::Duration fast_interval = absl::Milliseconds(250);
  std::string log_level = "info";
  std::string log_format = "text";  // text | logfmt | json
  std::string state_dir = "/var/lib/pgwarden";
  absl::Duration reconnect_max_backoff = absl::Seconds(10);
  std::vector<TargetConfig> targets;
  DetectorsConfig detectors;
  absl::Duration resolve_after = absl::Seconds(60);
  // incidents.aftermath_window: failed logins or rollbacks join a
  // destructive incident this long after its last destructive signal.
  absl::Duration aftermath_window = absl::Minutes(10);
  // incidents.update_interval: at most one page update per incident per
  // interval (PagerDuty rate-limits per routing key).
  absl::Duration incident_update_interval = absl::Seconds(10);
  // backup.max_archive_age: the last archived WAL segment may be this old
  // while WAL is written before the archive pages as stale.
  absl::Duration max_archive_age = absl::Minutes(15);
  // journal: with the change stream, the old rows of committed DELETEs are
  // kept under state_dir/journal/<target> (customer data: mode 0600) for
  // `pgwarden restore`, bounded by size and age.
  bool journal_enabled = true;
  uint64_t journal_max_bytes = 256ULL << 20;
  absl::Duration journal_max_age = absl::Hours(24);
  // restore.dsn (or dsn_env / dsn_file): the role `pgwarden restore`
  // re-inserts rows as (it needs INSERT on the tables; the agent's own role
  // only reads); used as given, so it names the target's database.
  std::string restore_dsn;
  PerTableMetrics per_table;  // metrics.per_table
  HttpLimits web;             // web: the HTTP endpoint's limits
  // web_config_file: TLS, basic auth and headers of the HTTP endpoint (the
  // exporter-toolkit web config format); "" serves plain HTTP.
  std::string web_config_file;
  // web.enable_lifecycle: POST /-/reload re-reads the config (as SIGHUP).
  bool enable_lifecycle = false;
  MaintenanceConfig maintenance;
  AlertingConfig alerting;
  RemediationConfig remediation;
};

// LiveConfig is the config the loops read: a reload points it at the new
// generation in one store. The Agent keeps every generation it loaded for
// its lifetime (a few KB each), so a loop still reading the previous one in
// the middle of a tick reads valid memory.
class LiveConfig {
 public:
  explicit LiveConfig(const AgentConfig* config) : config_(config) {}
  LiveConfig(const LiveConfig&) = delete;
  LiveConfig& operator=(const LiveConfig&) = delete;
  const AgentConfig* get() const { return config_.load(std::memory_order_acquire); }
  const AgentConfig* operator->() const { return get(); }
  void Set(const AgentConfig* config) { config_.store(config, std::memory_order_release); }

 private:
  std::atomic<const AgentConfig*> config_;
};

// LoadConfig reads and validates a YAML config file. Every problem (unknown
// key, wrong type, bad duration, impossible value, missing target) is
// reported, each with file, line and key path, in one InvalidArgument.
absl::StatusOr<AgentConfig> LoadConfig(const std::string& path);

// ParseConfig is LoadConfig on text already read (`path` names it in errors).
absl::StatusOr<AgentConfig> ParseConfig(const std::string& text, const std::string& path);

// InMaintenance returns the name of a window of `config` covering
// target/schema.table at `t`, or "" if none.
std::string InMaintenance(const MaintenanceConfig& config, const std::string& target,
                          const std::string& schema, const std::string& table, absl::Time t);

}  // namespace pgwarden

#endif  // PGWARDEN_AGENT_CONFIG_H_
