#include "detectors/seasonal.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace pgwarden {

absl::StatusOr<SeasonalOptions> ParseSeasonalOptions(const DetectorParams& params) {
  SeasonalOptions o;
  ParamReader r("seasonal", params);
  o.period = r.Duration("period", o.period);
  o.bins = static_cast<int>(r.Int("bins", o.bins, 1, SeasonalDetector::kMaxBins));
  o.half_life_cycles = r.Double("half_life_cycles", o.half_life_cycles, 0.01, 1e6);
  o.z = r.Double("z", o.z, 0.1, 1e6);
  o.direction = ReadDirection(r, "direction", o.direction);
  o.warmup_cycles = static_cast<int>(r.Int("warmup_cycles", o.warmup_cycles, 0, 1000000));
  o.min_stddev = r.Double("min_stddev", o.min_stddev, 0, 1e300);
  if (absl::Status s = r.Finish(); !s.ok()) return s;
  return o;
}

SeasonalDetector::SeasonalDetector(const SeasonalOptions& options)
    : options_(options),
      bin_width_(options.period / options.bins),
      bins_(static_cast<size_t>(options.bins)) {
  if (bin_width_ <= absl::ZeroDuration()) bin_width_ = absl::Seconds(1);
}

void SeasonalDetector::Reset() {
  std::fill(bins_.begin(), bins_.end(), Bin{});
  spacing_ = 0.0;
  last_t_ = absl::InfinitePast();
}

DetectorResult SeasonalDetector::Update(absl::Time t, double value, double /*weight*/) {
  DetectorResult res;
  res.baseline = std::numeric_limits<double>::quiet_NaN();
  if (!std::isfinite(value)) return res;
  if (last_t_ != absl::InfinitePast() && t > last_t_) {
    double dt = absl::ToDoubleSeconds(t - last_t_);
    spacing_ = spacing_ == 0.0 ? dt : 0.99 * spacing_ + 0.01 * dt;
  }
  last_t_ = t;
  absl::Duration rem;
  int64_t slot = absl::IDivDuration(t - absl::UnixEpoch(), bin_width_, &rem);
  if (rem < absl::ZeroDuration()) --slot;
  const int64_t nbins = options_.bins;
  int64_t cycle = slot >= 0 ? slot / nbins : -((-slot - 1) / nbins) - 1;
  Bin& bin = bins_[static_cast<size_t>(slot - cycle * nbins)];
  if (bin.last_cycle != cycle) {
    if (bin.last_cycle != INT64_MIN) ++bin.cycles;
    bin.last_cycle = cycle;
  }
  if (bin.stats.n > 0) res.baseline = bin.stats.mean;
  if (bin.stats.n >= 2) {
    double sd = std::max(bin.stats.stddev(), options_.min_stddev);
    double z = DirectedZ((value - bin.stats.mean) / sd, options_.direction);
    double severity = z / options_.z;
    res.score = ScoreFromSeverity(severity);
    res.alert = severity >= 1.0 && bin.cycles >= options_.warmup_cycles;
  }
  // Samples a bin receives per cycle, to express the half-life in cycles.
  double per_cycle =
      spacing_ > 0.0 ? std::max(1.0, absl::ToDoubleSeconds(bin_width_) / spacing_) : 1.0;
  double alpha = 1.0 - std::exp2(-1.0 / (options_.half_life_cycles * per_cycle));
  bin.stats.Add(value, alpha);
  return res;
}

}  // namespace pgwarden
