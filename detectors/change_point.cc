#include "detectors/change_point.h"

#include <algorithm>
#include <cmath>

namespace pgwarden {
namespace {
// Residuals are clipped so that a single outlier moves the statistic by at
// most h + k (it then fires alone, but several moderate outliers do not add
// up faster than a real shift).
double Clip(const ChangePointOptions& o) { return o.h + o.k; }
}  // namespace

absl::StatusOr<ChangePointOptions> ParseChangePointOptions(const std::string& name,
                                                           const DetectorParams& params) {
  ChangePointOptions o;
  ParamReader r(name, params);
  o.half_life = r.HalfLifeParam("half_life", o.half_life);
  o.k = r.Double("k", o.k, 0, 100);
  o.h = r.Double("h", o.h, 0.01, 1e6);
  o.direction = ReadDirection(r, "direction", o.direction);
  o.warmup = static_cast<int>(r.Int("warmup", o.warmup, 2, 100000000));
  o.min_stddev = r.Double("min_stddev", o.min_stddev, 0, 1e300);
  if (absl::Status s = r.Finish(); !s.ok()) return s;
  return o;
}

template <typename Drift>
DetectorResult ChangePointDetector<Drift>::Update(absl::Time t, double value, double /*weight*/) {
  DetectorResult res;
  res.baseline = baseline_.MeanOrNaN();
  if (!std::isfinite(value)) return res;
  double alpha = baseline_.NextAlpha(options_.half_life, t);
  EwmaStats& stats = baseline_.stats;
  if (stats.n < options_.warmup) {
    stats.Add(value, alpha);
    return res;
  }
  double sd = std::max(stats.stddev(), options_.min_stddev);
  double z = std::clamp((value - stats.mean) / sd, -Clip(options_), Clip(options_));
  auto [up, down] = drift_.Add(z, options_.k);
  double s = options_.direction == Direction::kUp     ? up
             : options_.direction == Direction::kDown ? down
                                                      : std::max(up, down);
  double severity = s / options_.h;
  res.score = ScoreFromSeverity(severity);
  res.alert = severity >= 1.0;
  if (res.alert) {
    // Restart on the new level.
    drift_ = Drift{};
    stats.mean = value;
  } else {
    stats.Add(value, alpha);
  }
  return res;
}

template class ChangePointDetector<CusumDrift>;
template class ChangePointDetector<PageHinkleyDrift>;

}  // namespace pgwarden
