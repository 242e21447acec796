#include "detectors/change_point.h"

#include <algorithm>
#include <cmath>
#include <limits>

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

void CusumDetector::Reset() {
  stats_.Reset();
  up_ = down_ = 0.0;
  last_t_ = absl::InfinitePast();
}

DetectorResult CusumDetector::Update(absl::Time t, double value, double /*weight*/) {
  DetectorResult res;
  res.baseline = stats_.n > 0 ? stats_.mean : std::numeric_limits<double>::quiet_NaN();
  if (!std::isfinite(value)) return res;
  double alpha =
      options_.half_life.Alpha(last_t_ == absl::InfinitePast() ? absl::Seconds(1) : t - last_t_);
  last_t_ = t;
  if (stats_.n < options_.warmup) {
    stats_.Add(value, alpha);
    return res;
  }
  double sd = std::max(stats_.stddev(), options_.min_stddev);
  double z = std::clamp((value - stats_.mean) / sd, -Clip(options_), Clip(options_));
  up_ = std::max(0.0, up_ + z - options_.k);
  down_ = std::max(0.0, down_ - z - options_.k);
  double s = options_.direction == Direction::kUp     ? up_
             : options_.direction == Direction::kDown ? down_
                                                      : std::max(up_, down_);
  double severity = s / options_.h;
  res.score = ScoreFromSeverity(severity);
  res.alert = severity >= 1.0;
  if (res.alert) {
    // Restart on the new level.
    up_ = down_ = 0.0;
    stats_.mean = value;
  } else {
    stats_.Add(value, alpha);
  }
  return res;
}

void PageHinkleyDetector::Reset() {
  stats_.Reset();
  sum_up_ = min_up_ = sum_down_ = min_down_ = 0.0;
  last_t_ = absl::InfinitePast();
}

DetectorResult PageHinkleyDetector::Update(absl::Time t, double value, double /*weight*/) {
  DetectorResult res;
  res.baseline = stats_.n > 0 ? stats_.mean : std::numeric_limits<double>::quiet_NaN();
  if (!std::isfinite(value)) return res;
  double alpha =
      options_.half_life.Alpha(last_t_ == absl::InfinitePast() ? absl::Seconds(1) : t - last_t_);
  last_t_ = t;
  if (stats_.n < options_.warmup) {
    stats_.Add(value, alpha);
    return res;
  }
  double sd = std::max(stats_.stddev(), options_.min_stddev);
  double z = std::clamp((value - stats_.mean) / sd, -Clip(options_), Clip(options_));
  sum_up_ += z - options_.k;
  min_up_ = std::min(min_up_, sum_up_);
  sum_down_ += -z - options_.k;
  min_down_ = std::min(min_down_, sum_down_);
  double up = sum_up_ - min_up_;
  double down = sum_down_ - min_down_;
  double s = options_.direction == Direction::kUp     ? up
             : options_.direction == Direction::kDown ? down
                                                      : std::max(up, down);
  double severity = s / options_.h;
  res.score = ScoreFromSeverity(severity);
  res.alert = severity >= 1.0;
  if (res.alert) {
    sum_up_ = min_up_ = sum_down_ = min_down_ = 0.0;
    stats_.mean = value;
  } else {
    stats_.Add(value, alpha);
  }
  // Keep the sums bounded: only the distance to the extreme matters.
  if (sum_up_ < -1e12 || sum_down_ < -1e12) {
    sum_up_ -= min_up_;
    min_up_ = 0.0;
    sum_down_ -= min_down_;
    min_down_ = 0.0;
  }
  return res;
}

}  // namespace pgwarden
