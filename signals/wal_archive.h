#ifndef PGWARDEN_SIGNALS_WAL_ARCHIVE_H_
#define PGWARDEN_SIGNALS_WAL_ARCHIVE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "nlohmann/json.hpp"
#include "signals/signal_event.h"
#include "sources/pg_sampler.h"

namespace pgwarden {

struct WalArchiveOptions {
  // max_age: the last archived segment may be this old while WAL is written
  // (backup.max_archive_age).
  absl::Duration max_age = absl::Minutes(15);
  // max_failures: failed attempts in a row (no success between) that page.
  int64_t max_failures = 3;
  // segment_bytes: WAL written since the last success beyond which a
  // segment should have been archived (wal_segment_size's default).
  uint64_t segment_bytes = 16ULL << 20;
};

// WalArchiveWatch judges a server's WAL archive from pg_stat_archiver at
// each tick: with archive_mode on, it is failing when max_failures attempts
// failed since the last success and the latest attempt failed, and stale
// when the last success is older than max_age while more than a segment of
// WAL was written since. Either emits a wal_archive event every tick it
// lasts (the incident resolves once archiving succeeds again and the
// signal has been quiet for resolve_after). Not thread-safe.
class WalArchiveWatch {
 public:
  explicit WalArchiveWatch(WalArchiveOptions options = {}) : options_(options) {}

  // Observe reads one tick; appends the event while the archive is unhealthy.
  void Observe(const Snapshot& snap, std::vector<SignalEvent>* events);
  // Health is the archive's state for pages and /status: enabled, healthy,
  // the counters and timestamps, and the problem when unhealthy (null
  // before the first tick).
  nlohmann::json Health() const;
  bool healthy() const { return problem_.empty(); }

 private:
  WalArchiveOptions options_;
  bool seen_ = false;
  ArchiverStat last_;
  uint64_t lsn_ = 0;
  int64_t failed_at_success_ = 0;  // failed count when archived last rose
  uint64_t lsn_at_success_ = 0;    // WAL position when archived last rose
  std::string problem_;
};

}  // namespace pgwarden

#endif  // PGWARDEN_SIGNALS_WAL_ARCHIVE_H_
