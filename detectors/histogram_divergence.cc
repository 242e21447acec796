#include "detectors/histogram_divergence.h"

#include <algorithm>
#include <cmath>
#include <iterator>

namespace pgwarden {

HistogramDivergence::HistogramDivergence(int levels, int window, double half_life)
    : levels_(std::clamp(levels, 2, kMaxLevels)),
      window_(std::clamp(window, 2, kMaxWindow)),
      decay_(std::exp2(-1.0 / std::max(half_life, 1.0))) {}

void HistogramDivergence::Clear() {
  head_ = n_ = 0;
  past_total_ = 0.0;
  std::fill(std::begin(ring_), std::end(ring_), 0);
  std::fill(std::begin(recent_), std::end(recent_), 0);
  std::fill(std::begin(past_), std::end(past_), 0.0);
}

double HistogramDivergence::Update(int level) {
  level = std::clamp(level, 0, levels_ - 1);
  if (n_ == window_) {
    // The oldest recent level moves to the long-run histogram.
    int old = ring_[head_];
    --recent_[old];
    for (int i = 0; i < levels_; ++i) past_[i] *= decay_;
    past_total_ = past_total_ * decay_ + 1.0;
    past_[old] += 1.0;
  } else {
    ++n_;
  }
  ring_[head_] = static_cast<uint8_t>(level);
  ++recent_[level];
  head_ = head_ + 1 == window_ ? 0 : head_ + 1;
  if (n_ < window_ || past_total_ < window_) return 0.0;
  // KL(recent || past), the past smoothed by half a sample per level.
  const double eps = 0.5;
  const double denom = past_total_ + eps * levels_;
  double kl = 0.0;
  for (int i = 0; i < levels_; ++i) {
    if (recent_[i] == 0) continue;
    double p = static_cast<double>(recent_[i]) / window_;
    double q = (past_[i] + eps) / denom;
    kl += p * std::log(p / q);
  }
  double g = 2.0 * window_ * std::max(kl, 0.0);
  double k = levels_ - 1;
  double c = 2.0 / (9.0 * k);
  return (std::cbrt(g / k) - (1.0 - c)) / std::sqrt(c);
}

}  // namespace pgwarden
