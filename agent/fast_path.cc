#include "agent/fast_path.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "core/log.h"

namespace pgwarden {

namespace {
// kXidQuery lists the client sessions of this database holding an xid.
constexpr char kXidQuery[] =
    "SELECT backend_xid::text, pid, coalesce(usename, ''), coalesce(application_name, ''), "
    "coalesce(host(client_addr), 'local') FROM pg_stat_activity "
    "WHERE backend_xid IS NOT NULL AND backend_type = 'client backend' "
    "AND datname = current_database() AND pid <> pg_backend_pid()";
}  // namespace

FastPath::FastPath(const AgentConfig& config, const TargetConfig& target,
                   DetectorFactories factories, TargetWatch::Silencer silencer,
                   AgentMetrics* metrics, Clock* clock)
    : config_(config),
      target_(target),
      metrics_(metrics),
      clock_(clock),
      stream_watch_(ChangeSource::kStream, factories, silencer),
      statement_watch_(ChangeSource::kStatements, factories, silencer),
      duration_(metrics->fast_tick_duration.Add({{"target", target.name}},
                                                AgentMetrics::SampleDurationBuckets())) {}

FastPath::~FastPath() { Stop(); }

void FastPath::Start(std::function<void()> wake) { (void)wake; }

void FastPath::Stop() {}

void FastPath::Sync(const Snapshot& snap) {
  stream_watch_.SyncTables(snap);
  statement_watch_.SyncTables(snap);
}

void FastPath::ObserveXids(pg::Session& conn, absl::Time now) {
  absl::StatusOr<pg::Result> rows = conn.Query(kXidQuery);
  if (!rows.ok()) {
    const std::string msg(rows.status().message());
    if (msg != xid_error_) PGW_LOG(Warning) << "target " << target_.name << ": " << msg;
    xid_error_ = msg;
    return;
  }
  xid_error_.clear();
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

void FastPath::Tick(pg::Session& conn, absl::Time now, WatchResult* out) {
  const absl::Time start = clock_->Now();
  (void)conn;
  (void)now;
  (void)out;
  duration_.Observe(absl::ToDoubleSeconds(clock_->Now() - start));
}

nlohmann::json FastPath::StatusJson() const {
  nlohmann::json paths = nlohmann::json::array();
  paths.push_back({{"path", "stats"}, {"state", "on"}});
  return paths;
}

}  // namespace pgwarden
