#include "detectors/ewma.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"

namespace pgwarden {

Direction ReadDirection(ParamReader& r, const std::string& key, Direction def) {
  // Reuse the integer/enum machinery: 0 both, 1 up, 2 down, or the words.
  std::string fallback = def == Direction::kUp ? "up" : def == Direction::kDown ? "down" : "both";
  std::string v = r.Enum(key, fallback, {"both", "up", "down"});
  if (v == "up") return Direction::kUp;
  if (v == "down") return Direction::kDown;
  return Direction::kBoth;
}

absl::StatusOr<EwmaOptions> ParseEwmaOptions(const DetectorParams& params) {
  EwmaOptions o;
  ParamReader r("ewma", params);
  o.half_life = r.HalfLifeParam("half_life", o.half_life);
  o.z = r.Double("z", o.z, 0.1, 1e6);
  o.direction = ReadDirection(r, "direction", o.direction);
  o.warmup = static_cast<int>(r.Int("warmup", o.warmup, 0, 100000000));
  o.min_stddev = r.Double("min_stddev", o.min_stddev, 0, 1e300);
  if (absl::Status s = r.Finish(); !s.ok()) return s;
  return o;
}

DetectorResult EwmaDetector::Update(absl::Time t, double value, double /*weight*/) {
  DetectorResult res;
  res.baseline = baseline_.MeanOrNaN();
  if (!std::isfinite(value)) return res;
  double alpha = baseline_.NextAlpha(options_.half_life, t);
  EwmaStats& stats = baseline_.stats;
  if (stats.n >= 2) {
    double sd = std::max(stats.stddev(), options_.min_stddev);
    double z = DirectedZ((value - stats.mean) / sd, options_.direction);
    double severity = z / options_.z;
    res.score = ScoreFromSeverity(severity);
    res.alert = severity >= 1.0 && stats.n >= options_.warmup;
  }
  stats.Add(value, alpha);
  return res;
}

}  // namespace pgwarden
