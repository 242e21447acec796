#include "agent/fast_path.h"

#include <filesystem>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "agent/target_loop_series.h"
#include "core/log.h"
#include "core/target_id.h"

namespace pgwarden {

namespace {
// kXidQuery lists the client sessions of this database holding an xid.
constexpr char kXidQuery[] =
    "SELECT backend_xid::text, pid, coalesce(usename, ''), coalesce(application_name, ''), "
    "coalesce(host(client_addr), 'local') FROM pg_stat_activity "
    "WHERE backend_xid IS NOT NULL AND backend_type = 'client backend' "
    "AND datname = current_database() AND pid <> pg_backend_pid()";
}  // namespace

FastPath::FastPath(const LiveConfig& config, const TargetConfig& target,
                   const DetectorFactories& factories, const TargetWatch::Silencer& silencer,
                   AgentMetrics* metrics, Clock* clock)
    : config_(config),
      target_(target),
      filter_(std::make_shared<SharedFilter>(TableFilter(target.include, target.exclude))),
      metrics_(metrics),
      clock_(clock),
      stream_watch_(ChangeSource::kStream, factories, silencer),
      statement_watch_(ChangeSource::kStatements, factories, silencer),
      duration_(metrics->fast_tick_duration.Add(TargetLabels(target.name),
                                                AgentMetrics::SampleDurationBuckets())) {}

FastPath::~FastPath() { Stop(); }

void FastPath::Start(std::function<void()> wake) {
  if (!target_.change_stream.enabled || stream_) return;
  ChangeStreamOptions o;
  o.target = target_.name;
  o.dsn = target_.dsn;
  o.slot = target_.change_stream.slot;
  o.allow_unbounded_retention = target_.change_stream.allow_unbounded_retention;
  o.state_dir = config_->state_dir;
  o.audit_path = config_->remediation.AuditPath(config_->state_dir);
  o.connect_timeout = target_.connect_timeout;
  o.max_backoff = config_->reconnect_max_backoff;
  o.watched = [filter = filter_](const std::string& schema, const std::string& table) {
    return filter->Matches(schema, table);
  };
  o.on_data = std::move(wake);
  if (config_->journal_enabled) {
    o.journal.dir =
        (std::filesystem::path(config_->state_dir) / "journal" / TargetFileName(target_.name))
            .string();
    o.journal.max_bytes = config_->journal_max_bytes;
    o.journal.max_age = config_->journal_max_age;
  }
  stream_ = std::make_unique<ChangeStream>(std::move(o));
  metrics_->change_stream_up.Add(TargetLabels(target_.name)).Set(0);
  metrics_->change_stream_gaps.Add(TargetLabels(target_.name));
  stream_->Start();
}

void FastPath::SetFilter(TableFilter filter) { filter_->Set(std::move(filter)); }

void FastPath::Stop() {
  if (stream_) stream_->Stop();
}

void FastPath::RemoveSeries() {
  const prometheus::Labels l = TargetLabels(target_.name);
  for (auto* f : {&metrics_->change_stream_up, &metrics_->change_stream_lag,
                  &metrics_->change_stream_retained, &metrics_->journal_bytes}) {
    Drop(*f, l);
  }
  for (auto* f :
       {&metrics_->change_stream_gaps, &metrics_->journal_rows, &metrics_->journal_dropped}) {
    Drop(*f, l);
  }
  for (const char* op : {"insert", "update", "delete", "truncate"}) {
    Drop(metrics_->change_stream_changes, TargetLabels(target_.name, "op", op));
  }
  metrics_->fast_tick_duration.Remove(&duration_);
}

bool FastPath::PollStream(pg::Session& conn, absl::Time now, WatchResult* out, bool observe) {
  const ChangeStreamStatus st = stream_->status();
  if (st.state != stream_state_) {
    const std::string msg =
        absl::StrCat("target ", target_.name, ": change stream (slot ", st.slot, ") ", st.state,
                     st.last_error.empty() ? "" : absl::StrCat(": ", st.last_error),
                     st.up ? "" : "; the statement counters and the statistics watch meanwhile");
    if (st.up) {
      PGW_LOG(Info) << msg;
    } else {
      PGW_LOG(Warning) << msg;
    }
    stream_state_ = st.state;
  }
  const prometheus::Labels l = TargetLabels(target_.name);
  metrics_->change_stream_up.Add(l).Set(st.up ? 1 : 0);
  metrics_->change_stream_lag.Add(l).Set(static_cast<double>(st.lag_bytes));
  metrics_->change_stream_retained.Add(l).Set(static_cast<double>(st.retained_bytes));
  const ChangeCounts c = stream_->counts();
  const std::pair<const char*, int64_t ChangeCounts::*> ops[] = {
      {"insert", &ChangeCounts::inserted},
      {"update", &ChangeCounts::updated},
      {"delete", &ChangeCounts::deleted},
      {"truncate", &ChangeCounts::truncates}};
  for (const auto& [op, field] : ops) {
    prometheus::Counter& counter =
        metrics_->change_stream_changes.Add(TargetLabels(target_.name, "op", op));
    const int64_t delta = c.*field - published_.*field;
    if (delta > 0) counter.Increment(static_cast<double>(delta));
  }
  published_ = c;
  const ChangeStream::JournalStats js = stream_->journal_stats();
  if (config_->journal_enabled) {
    metrics_->journal_bytes.Add(l).Set(static_cast<double>(js.bytes));
    prometheus::Counter& rows = metrics_->journal_rows.Add(l);
    if (js.rows > journal_published_.rows) {
      rows.Increment(static_cast<double>(js.rows - journal_published_.rows));
    }
    prometheus::Counter& dropped = metrics_->journal_dropped.Add(l);
    if (js.dropped > journal_published_.dropped) {
      dropped.Increment(static_cast<double>(js.dropped - journal_published_.dropped));
    }
    journal_published_ = js;
  }

  if (st.up && observe) ObserveXids(conn, now);
  std::vector<CommittedTxn> txns = stream_->Drain();
  if (!txns.empty()) {
    PGW_LOG(Debug) << "target " << target_.name << ": " << txns.size()
                   << " committed transaction(s), the first committed "
                   << absl::FormatDuration(now - txns.front().commit_time) << " ago";
  }
  if (st.up && !streaming_) stream_watch_.Rebaseline();  // (re)started: a new level
  streaming_ = st.up;
  if (recovery_ != nullptr) recovery_->ObserveTxns(txns);
  stream_watch_.AddTransactions(txns);
  if (streaming_) stream_watch_.Evaluate(now, out);
  for (const CoverageGap& gap : stream_->DrainGaps()) {
    metrics_->change_stream_gaps.Add(l).Increment();
    SignalEvent ev;
    ev.kind = SignalKind::kCoverageGap;
    ev.severity = Severity::kWarning;
    ev.time = now;
    ev.description = absl::StrCat("change stream gap: replication slot ", gap.slot, " ", gap.reason,
                                  "; it was created anew, changes committed in between were "
                                  "not seen by the change stream");
    ev.figures = {{"slot", gap.slot},
                  {"reason", gap.reason},
                  {"at", absl::FormatTime(absl::RFC3339_full, gap.time, absl::UTCTimeZone())}};
    out->events.push_back(std::move(ev));
  }
  return streaming_;
}

void FastPath::Sync(const Snapshot& snap) {
  // Only the watches a target uses follow its tables (state per table).
  if (target_.change_stream.enabled) stream_watch_.SyncTables(snap);
  if (target_.fast_path) statement_watch_.SyncTables(snap);
  watched_.clear();
  watched_.reserve(snap.tables.size());
  for (const TableStat& t : snap.tables) {
    watched_.push_back(WatchedTable{t.oid, t.schema, t.name, t.live_rows});
  }
}

void FastPath::PollStatements(pg::Session& conn, absl::Time now, WatchResult* out) {
  absl::StatusOr<std::vector<TableChange>> changes = counters_.Poll(conn, now);
  Warn("statement counters", changes.status());
  if (changes.ok()) statement_watch_.AddChanges(*changes);
  statement_watch_.Evaluate(now, out);
}

void FastPath::PollSuspects(pg::Session& conn, absl::Time now, WatchResult* out) {
  absl::StatusOr<std::vector<Suspect>> suspects = calls_.Poll(conn, watched_, now);
  Warn("commit-in-statement watch", suspects.status());
  if (!suspects.ok()) return;
  for (auto it = suspect_paged_.begin(); it != suspect_paged_.end();) {
    it = now - it->second > absl::Minutes(10) ? suspect_paged_.erase(it) : std::next(it);
  }
  for (const Suspect& s : *suspects) {
    absl::Time& last = suspect_paged_[{s.pid, s.oid}];
    if (now - last < absl::Seconds(1)) continue;
    last = now;
    SignalEvent ev;
    ev.kind = SignalKind::kRowLoss;
    ev.schema = s.schema;
    ev.table = s.table;
    ev.oid = s.oid;
    ev.time = now;
    ev.severity = Severity::kCritical;
    const int64_t lost = s.rows_before - s.rows_now;
    ev.description = absl::StrFormat(
        "table %s.%s lost %s of %s rows (%.1f%%) to one statement committing inside itself "
        "(pid %d, running %.0f s)",
        s.schema, s.table, FormatCount(lost), FormatCount(s.rows_before),
        s.rows_before > 0 ? 100.0 * static_cast<double>(lost) / static_cast<double>(s.rows_before)
                          : 0.0,
        s.pid, s.query_age_seconds);
    ev.figures = {{"rows_before", s.rows_before},
                  {"rows_now", s.rows_now},
                  {"rows_lost", lost},
                  {"delete_rate_per_s", s.rows_per_second},
                  {"suspect",
                   {{"pid", s.pid},
                    {"role", s.role},
                    {"application", s.application},
                    {"client", s.client},
                    {"query", s.query},
                    {"query_age_seconds", s.query_age_seconds},
                    {"xid_changes", s.xid_changes},
                    {"rows_before", s.rows_before},
                    {"rows_now", s.rows_now},
                    {"sampled", s.sampled}}}};
    const std::string window =
        InMaintenance(config_->maintenance, target_.name, s.schema, s.table, now);
    if (!window.empty()) {
      out->suppressed.emplace_back(std::move(ev), absl::StrCat("maintenance window ", window));
    } else {
      out->events.push_back(std::move(ev));
    }
  }
}

void FastPath::Warn(const std::string& source, const absl::Status& status) {
  std::string& last = errors_[source];
  const std::string msg = status.ok() ? "" : std::string(status.message());
  if (!msg.empty() && msg != last) {
    PGW_LOG(Warning) << "target " << target_.name << ": " << source << ": " << msg;
  }
  last = msg;
}

void FastPath::ObserveXids(pg::Session& conn, absl::Time now) {
  absl::StatusOr<pg::Result> rows = conn.Query(kXidQuery);
  Warn("sessions", rows.status());
  if (!rows.ok()) return;
  std::vector<XidSession> seen;
  seen.reserve(rows->size());
  for (const pg::Row& r : *rows) {
    XidSession s;
    if (!absl::SimpleAtoi(r.Text(0), &s.xid)) continue;
    s.pid = static_cast<int>(r.Int(1));
    s.role = r.Text(2);
    s.application = r.Text(3);
    s.client = r.Text(4);
    seen.push_back(std::move(s));
  }
  stream_watch_.ObserveSessions(now, seen);
}

void FastPath::Tick(pg::Session& conn, absl::Time now, WatchResult* out, bool stream_only) {
  const absl::Time start = clock_->Now();
  const bool streaming = stream_ != nullptr && PollStream(conn, now, out, !stream_only);
  if (stream_only) return;
  // The stream sees every commit; without it, the statement counters and
  // the commit-in-statement watch stand in.
  if (target_.fast_path && !streaming) {
    PollStatements(conn, now, out);
    PollSuspects(conn, now, out);
  }
  nlohmann::json status = BuildStatus();
  {
    absl::MutexLock lock(&status_mu_);
    status_ = std::move(status);
  }
  duration_.Observe(absl::ToDoubleSeconds(clock_->Now() - start));
}

nlohmann::json FastPath::StatusJson() const {
  absl::MutexLock lock(&status_mu_);
  return status_;
}

nlohmann::json FastPath::BuildStatus() const {
  nlohmann::json paths = nlohmann::json::array();
  if (stream_) {
    const ChangeStreamStatus st = stream_->status();
    nlohmann::json j = {{"path", "change_stream"},
                        {"state", st.state},
                        {"slot", st.slot},
                        {"lag_bytes", st.lag_bytes},
                        {"retained_wal_bytes", st.retained_bytes},
                        {"confirmed_lsn", FormatLsn(st.confirmed_lsn)}};
    if (!st.last_error.empty()) j["last_error"] = st.last_error;
    paths.push_back(std::move(j));
  }
  if (target_.fast_path) {
    paths.push_back({{"path", "statements"},
                     {"state", streaming_              ? "standby"
                               : counters_.available() ? "on"
                                                       : "unavailable"},
                     {"interval", absl::FormatDuration(config_->fast_interval)}});
    paths.push_back({{"path", "commit_in_statement"}, {"state", "on"}});
  }
  paths.push_back({{"path", "stats"}, {"state", "on"}});
  return paths;
}

}  // namespace pgwarden
