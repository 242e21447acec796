#include "agent/target_loop.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "agent/target_loop_series.h"
#include "core/log.h"
#include "core/target_id.h"
#include "pg/connect.h"
#include "remediation/object_access.h"

namespace pgwarden {

namespace {
// kFingerprintEvery is the statistics ticks between two catalog fingerprints.
constexpr int kFingerprintEvery = 5;
}  // namespace

std::string SuppressedReasonLabel(absl::string_view reason) {
  // The metric's reason is the class; a window's name and the figures of
  // "normal churn (...)" go to the log only (bounded label values).
  if (absl::StartsWith(reason, "maintenance")) return "maintenance";
  std::string label(reason.substr(0, reason.find(" (")));
  absl::StrReplaceAll({{" ", "_"}}, &label);
  return label;
}

TargetLoop::TargetLoop(const LiveConfig& config, const TargetConfig& target,
                       const DetectorFactories& factories, AgentMetrics* metrics,
                       IncidentManager* incidents, prometheus::Registry* registry, Clock* clock,
                       Degraded* degraded)
    : config_(config),
      target_(target),
      metrics_(metrics),
      incidents_(incidents),
      clock_(clock),
      sampler_(target.dsn, TableFilter(target.include, target.exclude),
               PgSamplerOptions{target.connect_timeout, target.statement_timeout, "pgwarden"}),
      watch_(factories, MaintenanceSilencer()),
      fast_(config, target, factories, MaintenanceSilencer(), metrics, clock),
      responder_(config, target, registry, metrics->ConstLabels(), incidents, clock, degraded),
      up_(metrics->up.Add(TargetLabels(target.name))),
      duration_(metrics->sample_duration.Add(TargetLabels(target.name),
                                             AgentMetrics::SampleDurationBuckets())),
      recovery_(RecoveryOptions{absl::Minutes(30), absl::Seconds(11),
                                config->interval * (kFingerprintEvery + 1)}),
      archive_(WalArchiveOptions{config->max_archive_age}),
      backoff_(config->interval),
      series_(std::make_unique<TargetLoopSeries>()) {
  up_.Set(0);
  {
    absl::MutexLock lock(&status_mu_);
    configured_ = target;
  }
  fast_.set_recovery(&recovery_);
  ObjectErrors::Get().Attach(target.name, &metrics->object_errors, &metrics->own_rollbacks);
  if (!target.server_log.empty()) server_log_ = std::make_unique<ServerLogTail>(target.server_log);
}

TargetLoop::~TargetLoop() { Stop(); }

TargetWatch::Silencer TargetLoop::MaintenanceSilencer() {
  return [this](const std::string& schema, const std::string& table, absl::Time t) {
    std::string window = InMaintenance(config_->maintenance, target_.name, schema, table, t);
    const TableRef* parent = window.empty() ? partitions_.ParentOf(schema, table) : nullptr;
    if (parent)
      window = InMaintenance(config_->maintenance, target_.name, parent->schema, parent->table, t);
    return window.empty() ? window : absl::StrCat("maintenance window ", window);
  };
}

void TargetLoop::Start() {
  const ScopedLogTarget log_target(target_.name);
  last_pass_unix_ms_ = absl::ToUnixMillis(clock_->Now());
  fast_.Start([this] {
    absl::MutexLock lock(&mu_);
    wake_ = true;
  });
  thread_ = std::thread([this] { Run(); });
}

void TargetLoop::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  if (thread_.joinable()) thread_.join();
  fast_.Stop();
}

bool TargetLoop::alive(absl::Time now) const {
  const absl::Time last = absl::FromUnixMillis(last_pass_unix_ms_.load());
  // A pass may legitimately wait for connect/statement timeouts and backoff.
  const absl::Duration slack = config_->interval + config_->reconnect_max_backoff +
                               target_.connect_timeout + 2 * target_.statement_timeout +
                               absl::Seconds(10);
  return now - last < slack;
}

void TargetLoop::SetFilter(const TargetConfig& next) {
  {
    absl::MutexLock lock(&status_mu_);
    configured_.include = next.include;
    configured_.exclude = next.exclude;
  }
  absl::MutexLock lock(&mu_);
  pending_filter_ = TableFilter(next.include, next.exclude);
}

TargetConfig TargetLoop::configured() const {
  absl::MutexLock lock(&status_mu_);
  return configured_;
}

void TargetLoop::ApplyFilter() {
  std::optional<TableFilter> filter;
  {
    absl::MutexLock lock(&mu_);
    filter.swap(pending_filter_);
  }
  if (!filter) return;
  // Tables the new filter leaves out leave the watch as tables renamed out
  // of scope do (no page); tables it adds start afresh.
  fast_.SetFilter(*filter);
  sampler_.SetFilter(*std::move(filter));
  PGW_LOG(Info) << "target " << target_.name << ": table filter reloaded";
}

void TargetLoop::Run() {
  const ScopedLogTarget log_target(target_.name);
  absl::Time next = clock_->Now();
  absl::Time next_fast = next;
  bool woken = false;
  while (true) {
    const absl::Time now = clock_->Now();
    if (now >= next) {
      ApplyFilter();
      RunOnce();
      last_pass_unix_ms_ = absl::ToUnixMillis(clock_->Now());
      bool ok;
      {
        absl::MutexLock lock(&status_mu_);
        ok = connected_;
      }
      if (ok) {
        backoff_ = config_->interval;
        // Fixed-rate ticks; if a pass overran, start the next one now.
        next += config_->interval;
        if (next < clock_->Now()) next = clock_->Now();
      } else {
        next = clock_->Now() + backoff_;
        backoff_ = std::min(backoff_ * 2, config_->reconnect_max_backoff);
      }
      next_fast = clock_->Now() + config_->fast_interval;
    } else if (now >= next_fast) {
      FastOnce(/*stream_only=*/false);
      next_fast += config_->fast_interval;
      if (next_fast < clock_->Now()) next_fast = clock_->Now() + config_->fast_interval;
    } else if (woken) {
      // Committed changes are waiting: only the change stream's part, at
      // once; the session guard and the rest keep the fast tick's pace.
      FastOnce(/*stream_only=*/true);
    }
    woken = false;
    const absl::Time wake_at = std::min(next, next_fast);
    // A real-time wait, woken early by Stop() and by committed changes
    // waiting; what it waits for was computed from the injected clock.
    absl::MutexLock lock(&mu_);
    auto wakes = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return stop_ || wake_; };
    mu_.AwaitWithTimeout(absl::Condition(&wakes), wake_at - clock_->Now());
    if (stop_) return;
    woken = wake_;
    wake_ = false;
  }
}

void TargetLoop::FastOnce(bool stream_only) {
  {
    absl::MutexLock lock(&status_mu_);
    if (!connected_) return;
  }
  pg::Session* conn = sampler_.session();
  if (conn == nullptr || !conn->IsOpen()) return;
  const absl::Time now = clock_->Now();
  WatchResult result;
  fast_.Tick(*conn, now, &result, stream_only);
  if (!stream_only) responder_.Guard(*conn, watched_, now, MaintenanceSilencer(), &result);
  Handle(result);
  incidents_->Tick(clock_->Now());
}

void TargetLoop::Handle(WatchResult& result) {
  // A table a signal names keeps its series exported for a while, whatever
  // metrics.per_table exports otherwise.
  for (const SignalEvent& ev : result.events) {
    auto it = series_->tables.find(ev.oid);
    if (it != series_->tables.end()) it->second.pinned_until = ev.time + absl::Minutes(10);
  }
  partitions_.RollUp(&result.events);  // before attribution: the SQL names the parent
  recovery_.Annotate(&result.events, archive_.Health());
  pg::Session* conn = sampler_.session();
  if (conn != nullptr && !result.events.empty()) {
    responder_.Enrich(*conn, &result.events, &result.suppressed);
  }
  for (const auto& [ev, reason] : result.suppressed) {
    const std::string label = SuppressedReasonLabel(reason);
    metrics_->suppressed.Add(TargetLabels(target_.name, "reason", label)).Increment();
    PGW_LOG(Info) << "target " << target_.name << ": not paging (" << reason
                  << "): " << ev.description;
  }
  if (result.counter_resets > 0) {
    metrics_->suppressed.Add(TargetLabels(target_.name, "reason", "counter_reset"))
        .Increment(result.counter_resets);
  }
  if (!result.events.empty()) responder_.Respond(incidents_->Observe(target_.name, result.events));
}

void TargetLoop::RunOnce() {
  const absl::Time start = clock_->Now();
  absl::StatusOr<Snapshot> snap = sampler_.Sample(start);
  if (!snap.ok()) {
    up_.Set(0);
    const bool unavailable = absl::IsUnavailable(snap.status());
    metrics_->sample_errors
        .Add(TargetLabels(target_.name, "reason", unavailable ? "connect" : "query"))
        .Increment();
    {
      absl::MutexLock lock(&status_mu_);
      const std::string msg(snap.status().message());
      if (connected_ || msg != last_error_) {
        PGW_LOG(Warning) << "target " << target_.name << ": " << msg << " (retrying in "
                         << absl::FormatDuration(backoff_) << ")";
      }
      connected_ = false;
      last_error_ = msg;
    }
    CheckDatabaseDropped(std::string(snap.status().message()));
    incidents_->Tick(clock_->Now());  // may notify (outbox fsync): no lock held
    return;
  }
  WatchResult result = watch_.Process(*snap);
  recovery_.ObserveSample(*snap);
  archive_.Observe(*snap, &result.events);
  std::vector<SignalEvent> detached;
  partitions_.Update(snap->tables, snap->time, &detached);
  for (SignalEvent& ev : detached) {
    watch_.Forget(ev.oid);
    EmitDdl(std::move(ev), &result);
  }
  PublishTables(result);
  PollServerLog(snap->time, snap->database, &result);
  CheckDdl(*snap, &result);
  if (snap->tables_reread) Follow(*snap);
  if (pg::Session* conn = sampler_.session()) {
    responder_.Observe(*conn);
    fast_.Tick(*conn, snap->time, &result);
    responder_.Guard(*conn, watched_, snap->time, MaintenanceSilencer(), &result);
  }
  PublishDatabase(*snap);

  Handle(result);
  incidents_->Tick(clock_->Now());
  RecordHistory(*snap);

  up_.Set(1);
  duration_.Observe(absl::ToDoubleSeconds(clock_->Now() - start));
  absl::MutexLock lock(&status_mu_);
  if (!connected_) {
    PGW_LOG(Info) << "target " << target_.name << ": sampling " << snap->tables.size()
                  << " tables of database " << snap->database;
  }
  connected_ = true;
  last_error_.clear();
  last_success_ = start;
  tables_watched_ = static_cast<int64_t>(snap->tables.size());
  archive_health_ = archive_.Health();
}

void TargetLoop::Follow(const Snapshot& snap) {
  fast_.Sync(snap);
  watched_.clear();
  watched_.reserve(snap.tables.size());
  absl::flat_hash_set<std::string>
      parents;  // a partitioned table is watched through its partitions
  for (const TableStat& t : snap.tables) {
    watched_.push_back(TableRef{t.schema, t.name});
    if (!t.parent_name.empty() &&
        parents.insert(absl::StrCat(t.parent_schema, ".", t.parent_name)).second) {
      watched_.push_back(TableRef{t.parent_schema, t.parent_name});
    }
  }
}

void TargetLoop::EmitDdl(SignalEvent ev, WatchResult* result) {
  const std::string role = ddl_log_.Attribute(&ev, database_);
  const auto& allowed = config_->maintenance.allowed_roles;
  if (!role.empty() && std::find(allowed.begin(), allowed.end(), role) != allowed.end()) {
    result->suppressed.emplace_back(std::move(ev), "allowed_role");
    return;
  }
  EmitUnlessSilenced(MaintenanceSilencer(), std::move(ev), result);
}

void TargetLoop::CheckDdl(const Snapshot& snap, WatchResult* result) {
  database_ = snap.database;
  database_missing_paged_ = false;
  pg::Session* conn = sampler_.session();
  if (conn == nullptr) return;
  const bool dropped =
      std::any_of(result->events.begin(), result->events.end(),
                  [](const SignalEvent& ev) { return ev.kind == SignalKind::kDropTable; }) ||
      std::any_of(result->suppressed.begin(), result->suppressed.end(),
                  [](const auto& s) { return s.first.kind == SignalKind::kDropTable; });
  if (dropped) {
    absl::StatusOr<absl::flat_hash_set<std::string>> schemas = ReadSchemas(*conn);
    if (schemas.ok()) {
      std::vector<SignalEvent> events = std::move(result->events);
      result->events.clear();
      GroupSchemaDrops(*schemas, snap.time, &events);
      for (SignalEvent& ev : events) {
        if (ev.kind == SignalKind::kDestructiveDdl) {
          EmitDdl(std::move(ev), result);
        } else {
          result->events.push_back(std::move(ev));
        }
      }
      std::vector<SignalEvent> quiet;
      std::vector<std::string> reasons;
      for (auto& [ev, reason] : result->suppressed) {
        if (ev.kind == SignalKind::kDropTable && !schemas->contains(ev.schema)) continue;
        quiet.push_back(std::move(ev));
        reasons.push_back(std::move(reason));
      }
      result->suppressed.clear();
      for (size_t i = 0; i < quiet.size(); ++i) {
        result->suppressed.emplace_back(std::move(quiet[i]), std::move(reasons[i]));
      }
    }
  }
  const bool logged = logged_ddl_rechecks_ > 0;
  if (logged) --logged_ddl_rechecks_;
  catalog_moved_ = catalog_moved_ || snap.database_changed;
  if (--ticks_to_fingerprint_ > 0 && !dropped && !logged) return;
  ticks_to_fingerprint_ = kFingerprintEvery;
  // A column change moves the database's row counters (pg_attribute,
  // pg_class): while they stand still the catalog is as last read.
  if (!catalog_moved_ && fingerprint_ && !dropped && !logged) return;
  catalog_moved_ = false;
  std::vector<int64_t> oids;
  oids.reserve(snap.tables.size());
  for (const TableStat& t : snap.tables) oids.push_back(t.oid);
  absl::StatusOr<CatalogFingerprint> fp = ReadCatalogFingerprint(*conn, oids, snap.time);
  if (!fp.ok()) {
    PGW_LOG(Warning) << "target " << target_.name << ": " << fp.status().message();
    return;
  }
  if (fingerprint_) {
    for (SignalEvent& ev : CompareFingerprints(*fingerprint_, *fp)) EmitDdl(std::move(ev), result);
  }
  fingerprint_ = std::make_unique<CatalogFingerprint>(*std::move(fp));
}

void TargetLoop::CheckDatabaseDropped(const std::string& message) {
  if (database_missing_paged_ || database_.empty() || !IsDatabaseMissing(message)) return;
  database_missing_paged_ = true;
  WatchResult result;
  PollServerLog(clock_->Now(), database_, &result);  // who dropped it
  EmitDdl(DatabaseDropped(database_, message, clock_->Now()), &result);
  Handle(result);
}

void TargetLoop::DatabaseGone() {
  CheckDatabaseDropped(absl::StrCat("database \"", database_, "\" does not exist"));
}

void TargetLoop::PollServerLog(absl::Time now, const std::string& database, WatchResult* result) {
  if (!server_log_) return;
  absl::StatusOr<LoginFailures> polled = server_log_->Poll();
  if (!polled.ok()) {
    const std::string msg(polled.status().message());
    if (msg != server_log_error_) PGW_LOG(Warning) << "target " << target_.name << ": " << msg;
    server_log_error_ = msg;
    return;
  }
  if (!server_log_error_.empty()) {
    PGW_LOG(Info) << "target " << target_.name << ": reading " << server_log_->path() << " again";
    server_log_error_.clear();
  }
  for (const auto& [reason, n] : polled->by_reason) {
    metrics_->failed_logins.Add(TargetLabels(target_.name, "reason", reason))
        .Increment(static_cast<double>(n));
  }
  for (const LoggedStatement& st : polled->statements) {
    if (ddl_log_.Add(st, now, database, watched_)) logged_ddl_rechecks_ = 3;
  }
  if (polled->statements_dropped > 0) {
    PGW_LOG(Warning) << "target " << target_.name << ": " << polled->statements_dropped
                     << " logged schema changes not kept (more than "
                     << LoginFailures::kMaxStatements << " in one poll)";
  }
  watch_.ProcessLogins(now, database, *polled, result);
  metrics_->anomaly_score.Add(ScoreLabels("failed_logins")).Set(watch_.failed_logins_score());
}

nlohmann::json TargetLoop::StatusJson() const {
  absl::MutexLock lock(&status_mu_);
  nlohmann::json j = {{"name", target_.name},
                      {"dsn", pg::RedactDsn(target_.dsn)},
                      {"up", connected_},
                      {"tables_watched", tables_watched_},
                      {"paths", fast_.StatusJson()},
                      {"unreadable_objects", ObjectErrors::Get().Json(target_.name)},
                      {"wal_archive", archive_health_},
                      {"row_history", history_.Json()}};
  if (!target_.database.empty()) j["database"] = target_.database;
  if (!last_error_.empty()) j["last_error"] = last_error_;
  if (last_success_ != absl::InfinitePast()) {
    j["last_sample"] = absl::FormatTime(absl::RFC3339_full, last_success_, absl::UTCTimeZone());
  }
  return j;
}

}  // namespace pgwarden
