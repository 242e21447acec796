#include "detectors/ewma.h"

#include <algorithm>
#include <cmath>
#include <limits>

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
  res.baseline = stats_.n > 0 ? stats_.mean : std::numeric_limits<double>::quiet_NaN();
  if (!std::isfinite(value)) return res;
  double alpha =
      options_.half_life.Alpha(last_t_ == absl::InfinitePast() ? absl::Seconds(1) : t - last_t_);
  last_t_ = t;
  if (stats_.n >= 2) {
    double sd = std::max(stats_.stddev(), options_.min_stddev);
    double z = DirectedZ((value - stats_.mean) / sd, options_.direction);
    double severity = z / options_.z;
    res.score = ScoreFromSeverity(severity);
    res.alert = severity >= 1.0 && stats_.n >= options_.warmup;
  }
  stats_.Add(value, alpha);
  return res;
}

}  // namespace pgwarden
