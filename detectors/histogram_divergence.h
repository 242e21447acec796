#ifndef PGWARDEN_DETECTORS_HISTOGRAM_DIVERGENCE_H_
#define PGWARDEN_DETECTORS_HISTOGRAM_DIVERGENCE_H_

#include <cstddef>
#include <cstdint>

namespace pgwarden {

// HistogramDivergence is a relative-entropy test of the recent distribution
// of a quantised series against its past: the histogram of the last `window`
// levels is compared with the long-run histogram of the levels before them
// (each sample enters it as it leaves the window; decayed with half-life
// `half_life` samples). Update returns the G statistic
// 2 * window * KL(recent || past) as a standard-normal deviate (Wilson-
// Hilferty approximation of a chi-square with levels-1 degrees of freedom),
// or 0 until the window is full and the past holds a window's weight.
// O(levels) per update (levels <= kMaxLevels), fixed memory.
class HistogramDivergence {
 public:
  static constexpr int kMaxLevels = 32;
  static constexpr int kMaxWindow = 256;

  HistogramDivergence(int levels, int window, double half_life);
  // Update adds a level (clamped to 0..levels-1) and returns the deviate.
  double Update(int level);
  void Clear();
  int levels() const { return levels_; }
  size_t Bytes() const { return sizeof(*this); }

 private:
  int levels_;
  int window_;
  double decay_;
  int head_ = 0;
  int n_ = 0;
  double past_total_ = 0.0;
  uint8_t ring_[kMaxWindow] = {};
  int recent_[kMaxLevels] = {};
  double past_[kMaxLevels] = {};
};

}  // namespace pgwarden

#endif  // PGWARDEN_DETECTORS_HISTOGRAM_DIVERGENCE_H_
