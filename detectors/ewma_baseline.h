#ifndef PGWARDEN_DETECTORS_EWMA_BASELINE_H_
#define PGWARDEN_DETECTORS_EWMA_BASELINE_H_

#include <limits>

#include "absl/time/time.h"
#include "detectors/ewma_stats.h"
#include "detectors/params.h"

namespace pgwarden {

// EwmaBaseline is the EWMA baseline of a streaming detector: the mean and
// variance, and the time of the last sample, from which the weight of the next
// one follows under a sample- or time-based half life.
struct EwmaBaseline {
  EwmaStats stats;
  absl::Time last_t = absl::InfinitePast();

  // MeanOrNaN is the mean, or NaN before the first sample.
  double MeanOrNaN() const {
    return stats.n > 0 ? stats.mean : std::numeric_limits<double>::quiet_NaN();
  }
  // NextAlpha returns the weight under `half_life` of a sample taken at `t`
  // and records `t` as the last sample's time. The first sample counts as
  // taken one second after its (absent) predecessor.
  double NextAlpha(const HalfLife& half_life, absl::Time t) {
    double alpha = half_life.Alpha(last_t == absl::InfinitePast() ? absl::Seconds(1) : t - last_t);
    last_t = t;
    return alpha;
  }
  void Reset() { *this = EwmaBaseline{}; }
};

}  // namespace pgwarden

#endif  // PGWARDEN_DETECTORS_EWMA_BASELINE_H_
