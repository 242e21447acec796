#ifndef PGWARDEN_DETECTORS_ROBUST_H_
#define PGWARDEN_DETECTORS_ROBUST_H_

#include <vector>

#include "absl/status/statusor.h"
#include "detectors/detector.h"
#include "detectors/ewma.h"

namespace pgwarden {

// SlidingQuantiles keeps the last `capacity` values in arrival order and in
// sorted order, so any quantile is O(1) and an update is O(capacity) memmove
// (a few hundred doubles: tens of nanoseconds). Memory is fixed.
class SlidingQuantiles {
 public:
  explicit SlidingQuantiles(int capacity);
  // Add inserts x, evicting the oldest value once full.
  void Add(double x);
  // Quantile returns the q-quantile (0..1, linear interpolation); size() > 0.
  double Quantile(double q) const;
  // Scale is a robust standard deviation: IQR/1.349, falling back to wider
  // quantile ranges when the IQR is zero.
  double Scale() const;
  int size() const { return static_cast<int>(sorted_.size()); }
  int capacity() const { return capacity_; }
  void Clear();
  size_t Bytes() const { return (ring_.capacity() + sorted_.capacity()) * sizeof(double); }

 private:
  int capacity_;
  int head_ = 0;
  std::vector<double> ring_;
  std::vector<double> sorted_;
};

// RobustOptions configure the `robust` detector.
struct RobustOptions {
  // window is the number of recent samples for the median and the scale.
  int window = 128;
  // z is the alert threshold on |value - median| / robust stddev.
  double z = 6.0;
  Direction direction = Direction::kBoth;
  // warmup samples during which the detector never alerts.
  int warmup = 30;
  // min_stddev is a floor on the robust stddev (absolute units).
  double min_stddev = 1e-9;
};

// ParseRobustOptions validates `robust` parameters by name.
absl::StatusOr<RobustOptions> ParseRobustOptions(const DetectorParams& params);

// RobustDetector scores the distance from the windowed median in units of
// the windowed inter-quartile range: outliers do not inflate the baseline.
class RobustDetector : public Detector {
 public:
  static constexpr int kMaxWindow = 65536;
  explicit RobustDetector(const RobustOptions& options)
      : options_(options), window_(options.window) {}
  DetectorResult Update(absl::Time t, double value, double weight = 1.0) override;
  void Reset() override {
    window_.Clear();
    seen_ = 0;
  }
  size_t StateBytes() const override { return sizeof(*this) + window_.Bytes(); }

 private:
  RobustOptions options_;
  SlidingQuantiles window_;
  int64_t seen_ = 0;
};

}  // namespace pgwarden

#endif  // PGWARDEN_DETECTORS_ROBUST_H_
