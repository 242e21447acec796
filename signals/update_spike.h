#ifndef PGWARDEN_SIGNALS_UPDATE_SPIKE_H_
#define PGWARDEN_SIGNALS_UPDATE_SPIKE_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "detectors/detector.h"
#include "signals/signal_event.h"

namespace pgwarden {

// UpdateGate is what turns an update-rate spike into a mass overwrite: the
// rate detector says the rate is far above the table's own baseline; the
// gate also asks for several times that baseline and for a burst that
// rewrote a share of the table, so a big hot table's normal bursts (and a
// busier hour) do not page.
struct UpdateGate {
  // min_share: rows updated in the burst / live rows of the table.
  double min_share = 0.02;
  // min_rows: rows updated in the burst, at least.
  int64_t min_rows = 1000;
  // min_ratio: the rate must be at least this many times its baseline.
  double min_ratio = 3.0;
};

// UpdateVerdict is what one interval of a table's updates produced.
struct UpdateVerdict {
  // fire: the burst is a mass overwrite (page it).
  bool fire = false;
  // hot: this interval is part of a burst (detector alert and min_ratio).
  bool hot = false;
  double score = 0;
  double rate = 0;      // rows updated per second (over the rate window)
  double baseline = 0;  // the detector's usual rate (0 before it has one)
  int64_t burst_rows = 0;
  double burst_seconds = 0;
  int64_t live_rows = 0;
  double share = 0;  // burst_rows / live_rows
};

// UpdateSpikeTracker is one table's update-rate detector and the burst it
// is in: rows updated per second (optionally over a sliding window) fed to
// the detector; consecutive hot intervals (gaps shorter than kBurstGap)
// form a burst whose rows, and the roles that updated them, are summed.
// O(1) per interval but for the window (one entry per interval in it).
class UpdateSpikeTracker {
 public:
  // kBurstGap: a burst ends after this long without a hot interval.
  static constexpr absl::Duration kBurstGap = absl::Seconds(10);

  UpdateSpikeTracker(std::unique_ptr<Detector> detector, UpdateGate gate,
                     absl::Duration window = absl::ZeroDuration());

  // Observe feeds the rows updated in the `dt` seconds up to `now` by
  // `roles` (rows per role, when the source knows them) on a table of
  // `live_rows` rows.
  UpdateVerdict Observe(absl::Time now, int64_t updated, double dt, int64_t live_rows,
                        const std::map<std::string, int64_t>& roles = {});
  // Reset forgets the baseline, the window and the burst.
  void Reset();

  double score() const { return score_; }
  // rows_by_role is the current burst's rows per role.
  const std::map<std::string, int64_t>& rows_by_role() const { return rows_by_role_; }

 private:
  std::unique_ptr<Detector> detector_;
  UpdateGate gate_;
  absl::Duration window_;
  // A vector, not a deque: an empty deque still allocates ~600 bytes, and
  // every watched table has one.
  std::vector<std::pair<absl::Time, int64_t>> recent_;
  int64_t recent_sum_ = 0;
  double score_ = 0;
  int64_t burst_rows_ = 0;
  absl::Time burst_start_ = absl::InfinitePast();
  absl::Time last_hot_ = absl::InfinitePast();
  std::map<std::string, int64_t> rows_by_role_;
};

// UpdateSpikeEvent describes a firing verdict on schema.table; `source` is
// appended to the description when not empty ("change_stream", ...).
SignalEvent UpdateSpikeEvent(const std::string& schema, const std::string& table, int64_t oid,
                             const UpdateVerdict& v, const std::string& source, absl::Time now);

}  // namespace pgwarden

#endif  // PGWARDEN_SIGNALS_UPDATE_SPIKE_H_
