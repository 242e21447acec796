#include "signals/wal_archive.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "sources/table_changes.h"

namespace pgwarden {
namespace {

nlohmann::json TimeJson(absl::Time t) {
  if (t == absl::InfinitePast()) return nullptr;
  return absl::FormatTime(absl::RFC3339_sec, t, absl::UTCTimeZone());
}

}  // namespace

void WalArchiveWatch::Observe(const Snapshot& snap, std::vector<SignalEvent>* events) {
  const ArchiverStat& a = snap.archiver;
  if (!seen_ || a.archived < last_.archived || a.failed < last_.failed) {
    // First tick, or the server's statistics were reset: a new baseline.
    // A failure newer than the last success counts as max_failures - 1 in
    // a row, so that the next failed attempt pages.
    failed_at_success_ =
        a.last_failed > a.last_archived ? a.failed - options_.max_failures + 1 : a.failed;
    lsn_at_success_ = snap.wal_lsn;
  } else if (a.archived > last_.archived) {
    failed_at_success_ = a.failed;
    lsn_at_success_ = snap.wal_lsn;
  }
  seen_ = true;
  last_ = a;
  lsn_ = snap.wal_lsn;
  problem_.clear();
  if (!a.enabled) return;
  const int64_t in_a_row = a.failed - failed_at_success_;
  const absl::Time now = snap.server_time != absl::InfinitePast() ? snap.server_time : snap.time;
  const uint64_t written = snap.wal_lsn > lsn_at_success_ ? snap.wal_lsn - lsn_at_success_ : 0;
  if (in_a_row >= options_.max_failures && a.last_failed > a.last_archived) {
    problem_ = absl::StrCat("WAL archiving failing: ", in_a_row,
                            " attempts failed since the last success");
  } else if (written > options_.segment_bytes && a.last_archived != absl::InfinitePast() &&
             now - a.last_archived > options_.max_age) {
    problem_ =
        absl::StrFormat("WAL archive stale: last segment archived %s ago, %.0f MiB written since",
                        absl::FormatDuration(absl::Trunc(now - a.last_archived, absl::Seconds(1))),
                        static_cast<double>(written) / (1 << 20));
  }
  if (problem_.empty()) return;
  SignalEvent ev;
  ev.kind = SignalKind::kWalArchive;
  ev.severity = Severity::kCritical;
  ev.time = snap.time;
  ev.description = absl::StrCat(problem_, ": a point-in-time restore would lose data");
  ev.figures = Health();
  events->push_back(std::move(ev));
}

nlohmann::json WalArchiveWatch::Health() const {
  if (!seen_) return nullptr;
  nlohmann::json j = {{"enabled", last_.enabled},
                      {"healthy", last_.enabled && problem_.empty()},
                      {"archived", last_.archived},
                      {"failed", last_.failed},
                      {"last_archived", TimeJson(last_.last_archived)},
                      {"last_failed", TimeJson(last_.last_failed)},
                      {"wal_lsn", FormatLsn(lsn_)}};
  if (!last_.enabled)
    j["problem"] = "archive_mode is off: no point-in-time restore from an archive";
  if (!problem_.empty()) j["problem"] = problem_;
  return j;
}

}  // namespace pgwarden
