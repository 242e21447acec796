#include "detectors/rate_spike.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace pgwarden {
namespace {
// Weight of a sample above the alert threshold, relative to a normal one.
constexpr double kAnomalyWeight = 0.02;
}  // namespace

absl::StatusOr<RateSpikeOptions> ParseRateSpikeOptions(const DetectorParams& params) {
  RateSpikeOptions o;
  ParamReader r("rate_spike", params);
  o.half_life = r.HalfLifeParam("half_life", o.half_life);
  o.z = r.Double("z", o.z, 0.1, 1e6);
  o.min_rate = r.Double("min_rate", o.min_rate, 0, 1e18);
  o.min_excess = r.Double("min_excess", o.min_excess, 0, 1e18);
  o.warmup = static_cast<int>(r.Int("warmup", o.warmup, 0, 100000000));
  o.hard_rate = r.Double("hard_rate", o.hard_rate, 0, std::numeric_limits<double>::infinity());
  if (absl::Status s = r.Finish(); !s.ok()) return s;
  return o;
}

DetectorResult RateSpikeDetector::Update(absl::Time t, double value, double /*weight*/) {
  DetectorResult res;
  res.baseline = baseline_.MeanOrNaN();
  if (!std::isfinite(value)) return res;
  double alpha = baseline_.NextAlpha(options_.half_life, t);
  EwmaStats& stats = baseline_.stats;

  const bool warm = stats.n >= options_.warmup && stats.n > 0;
  double severity = 0.0;
  bool above = false;
  if (stats.n > 0) {
    // A floor of one unit keeps z finite on a flat series; min_rate and
    // min_excess gate the alert anyway.
    double sd = std::max(stats.stddev(), 1.0);
    double excess = value - stats.mean;
    double z = excess / sd;
    above = z >= options_.z;
    auto ratio = [](double x, double threshold) {
      return threshold > 0.0 ? x / threshold : std::numeric_limits<double>::infinity();
    };
    double r = std::min(
        {z / options_.z, ratio(value, options_.min_rate), ratio(excess, options_.min_excess)});
    if (warm) severity = r;
  }
  bool hard = options_.hard_rate > 0.0 && value >= options_.hard_rate;
  if (options_.hard_rate > 0.0) severity = std::max(severity, value / options_.hard_rate);
  res.score = ScoreFromSeverity(severity);
  res.alert = severity >= 1.0 && (warm || hard);
  // Anomalies barely move the baseline, so a long mass delete stays visible.
  // A hard-rate sample never seeds the baseline.
  if (hard && stats.n == 0) return res;
  stats.Add(value, alpha, (above && warm) || hard ? kAnomalyWeight : 1.0);
  return res;
}

}  // namespace pgwarden
