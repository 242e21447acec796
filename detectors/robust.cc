#include "detectors/robust.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

namespace pgwarden {

SlidingQuantiles::SlidingQuantiles(int capacity) : capacity_(std::max(1, capacity)) {
  ring_.reserve(static_cast<size_t>(capacity_));
  sorted_.reserve(static_cast<size_t>(capacity_));
}

void SlidingQuantiles::Clear() {
  ring_.clear();
  sorted_.clear();
  head_ = 0;
}

void SlidingQuantiles::Add(double x) {
  if (static_cast<int>(ring_.size()) < capacity_) {
    ring_.push_back(x);
    sorted_.insert(std::upper_bound(sorted_.begin(), sorted_.end(), x), x);
    return;
  }
  double old = ring_[static_cast<size_t>(head_)];
  ring_[static_cast<size_t>(head_)] = x;
  head_ = head_ + 1 == capacity_ ? 0 : head_ + 1;
  // Replace `old` by `x` in the sorted array, shifting only the span between.
  auto pos = std::lower_bound(sorted_.begin(), sorted_.end(), old);
  if (x >= old) {
    auto dst = std::upper_bound(pos, sorted_.end(), x);
    std::move(pos + 1, dst, pos);
    *(dst - 1) = x;
  } else {
    auto dst = std::upper_bound(sorted_.begin(), pos, x);
    std::move_backward(dst, pos, pos + 1);
    *dst = x;
  }
}

double SlidingQuantiles::Quantile(double q) const {
  const size_t n = sorted_.size();
  if (n == 0) return std::numeric_limits<double>::quiet_NaN();
  double pos = q * static_cast<double>(n - 1);
  size_t lo = static_cast<size_t>(pos);
  if (lo + 1 >= n) return sorted_[n - 1];
  double frac = pos - static_cast<double>(lo);
  return sorted_[lo] + frac * (sorted_[lo + 1] - sorted_[lo]);
}

double SlidingQuantiles::Scale() const {
  if (sorted_.size() < 2) return 0.0;
  double s = (Quantile(0.75) - Quantile(0.25)) / 1.349;
  if (s > 0) return s;
  s = (Quantile(0.95) - Quantile(0.05)) / 3.29;
  if (s > 0) return s;
  return (sorted_.back() - sorted_.front()) / 6.0;
}

absl::StatusOr<RobustOptions> ParseRobustOptions(const DetectorParams& params) {
  RobustOptions o;
  ParamReader r("robust", params);
  o.window = static_cast<int>(r.Int("window", o.window, 3, RobustDetector::kMaxWindow));
  o.z = r.Double("z", o.z, 0.1, 1e6);
  o.direction = ReadDirection(r, "direction", o.direction);
  o.warmup = static_cast<int>(r.Int("warmup", o.warmup, 0, 100000000));
  o.min_stddev = r.Double("min_stddev", o.min_stddev, 0, 1e300);
  if (absl::Status s = r.Finish(); !s.ok()) return s;
  return o;
}

DetectorResult RobustDetector::Update(absl::Time /*t*/, double value, double /*weight*/) {
  DetectorResult res;
  res.baseline =
      window_.size() > 0 ? window_.Quantile(0.5) : std::numeric_limits<double>::quiet_NaN();
  if (!std::isfinite(value)) return res;
  if (window_.size() >= 2) {
    double sd = std::max(window_.Scale(), options_.min_stddev);
    double z = DirectedZ((value - res.baseline) / sd, options_.direction);
    double severity = z / options_.z;
    res.score = ScoreFromSeverity(severity);
    res.alert = severity >= 1.0 && seen_ >= options_.warmup;
  }
  window_.Add(value);
  ++seen_;
  return res;
}

}  // namespace pgwarden
