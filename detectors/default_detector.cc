#include "detectors/default_detector.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace pgwarden {

absl::StatusOr<DefaultOptions> ParseDefaultOptions(const DetectorParams& params) {
  DefaultOptions o;
  ParamReader r("default", params);
  o.window = static_cast<int>(r.Int("window", o.window, 8, RobustDetector::kMaxWindow));
  o.short_window = static_cast<int>(r.Int("short", o.short_window, 1, DefaultDetector::kMaxShort));
  o.long_half_life = r.Double("long_half_life", o.long_half_life, 1, 1e9);
  o.clip = r.Double("clip", o.clip, 1, 1e6);
  o.z = r.Double("z", o.z, 0.1, 1e6);
  o.suppress = static_cast<int>(r.Int("suppress", o.suppress, 0, 1000000));
  o.warmup = static_cast<int>(r.Int("warmup", o.warmup, 2, 100000000));
  if (absl::Status s = r.Finish(); !s.ok()) return s;
  return o;
}

DefaultDetector::DefaultDetector(const DefaultOptions& options)
    : options_(options), window_(options.window) {}

void DefaultDetector::Reset() {
  window_.Clear();
  std::fill(std::begin(recent_), std::end(recent_), 0.0);
  recent_head_ = recent_n_ = 0;
  recent_sum_ = 0.0;
  history_.Reset();
  peak_ = 0.0;
  peak_age_ = 0;
  seen_ = 0;
}

DetectorResult DefaultDetector::Update(absl::Time /*t*/, double value, double /*weight*/) {
  DetectorResult res;
  res.baseline =
      window_.size() > 0 ? window_.Quantile(0.5) : std::numeric_limits<double>::quiet_NaN();
  if (!std::isfinite(value)) return res;
  ++seen_;
  if (window_.size() < 2) {
    window_.Add(value);
    return res;
  }
  // 1. Robust deviation from the windowed median.
  double med = res.baseline;
  double scale = window_.Scale();
  double floor = 1e-6 * std::max(1.0, std::fabs(med));
  double dev = std::min(std::fabs(value - med) / std::max(scale, floor), options_.clip);
  window_.Add(value);

  // 2. Short average of deviations.
  const int k = options_.short_window;
  if (recent_n_ == k)
    recent_sum_ -= recent_[recent_head_];
  else
    ++recent_n_;
  recent_[recent_head_] = dev;
  recent_sum_ += dev;
  recent_head_ = (recent_head_ + 1) % k;
  double avg = recent_sum_ / recent_n_;

  // 3. Likelihood against this series' own history of deviations.
  double alpha = 1.0 - std::exp2(-1.0 / options_.long_half_life);
  double z = 0.0;
  if (history_.n >= 2) {
    double sd = std::max(history_.stddev(), 1e-3);
    z = (avg - history_.mean) / sd;
  }
  history_.Add(avg, alpha);

  // 4. Peak suppression: one detection per event.
  double severity = z / options_.z;
  if (options_.suppress > 0) {
    if (peak_age_ > options_.suppress) peak_ = 0.0;
    if (severity > peak_) {
      peak_ = severity;
      peak_age_ = 0;
    } else {
      severity *= 0.5;
      ++peak_age_;
    }
  }
  res.score = ScoreFromSeverity(severity);
  res.alert = severity >= 1.0 && seen_ > options_.warmup;
  return res;
}

}  // namespace pgwarden
