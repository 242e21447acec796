#ifndef PGWARDEN_DETECTORS_CHANGE_POINT_H_
#define PGWARDEN_DETECTORS_CHANGE_POINT_H_

#include "absl/status/statusor.h"
#include "detectors/detector.h"
#include "detectors/ewma.h"
#include "detectors/ewma_stats.h"

namespace pgwarden {

// ChangePointOptions configure the `cusum` and `page_hinkley` detectors. Both
// accumulate standardized residuals against a slow EWMA baseline and alert
// when the accumulated drift crosses `h`.
struct ChangePointOptions {
  // half_life of the baseline mean and variance, samples or time.
  HalfLife half_life{false, 200.0, absl::Minutes(5)};
  // k is the slack (in standard deviations) subtracted from each residual.
  double k = 0.5;
  // h is the alert threshold of the accumulated drift (standard deviations).
  double h = 10.0;
  Direction direction = Direction::kBoth;
  // warmup samples during which the detector never alerts (and only learns).
  int warmup = 30;
  // min_stddev is a floor on the baseline stddev (absolute units).
  double min_stddev = 1e-9;
};

// ParseChangePointOptions validates `cusum` / `page_hinkley` parameters
// (`name` is used in error messages).
absl::StatusOr<ChangePointOptions> ParseChangePointOptions(const std::string& name,
                                                           const DetectorParams& params);

// CusumDetector is a two-sided tabular CUSUM. After an alert the statistic
// restarts and the baseline re-centres on the new level.
class CusumDetector : public Detector {
 public:
  explicit CusumDetector(const ChangePointOptions& options) : options_(options) {}
  DetectorResult Update(absl::Time t, double value, double weight = 1.0) override;
  void Reset() override;
  size_t StateBytes() const override { return sizeof(*this); }

 private:
  ChangePointOptions options_;
  EwmaStats stats_;
  double up_ = 0.0;
  double down_ = 0.0;
  absl::Time last_t_ = absl::InfinitePast();
};

// PageHinkleyDetector is the two-sided Page-Hinkley test: the cumulative sum
// of residuals against its running extreme.
class PageHinkleyDetector : public Detector {
 public:
  explicit PageHinkleyDetector(const ChangePointOptions& options) : options_(options) {}
  DetectorResult Update(absl::Time t, double value, double weight = 1.0) override;
  void Reset() override;
  size_t StateBytes() const override { return sizeof(*this); }

 private:
  ChangePointOptions options_;
  EwmaStats stats_;
  double sum_up_ = 0.0, min_up_ = 0.0;
  double sum_down_ = 0.0, min_down_ = 0.0;
  absl::Time last_t_ = absl::InfinitePast();
};

}  // namespace pgwarden

#endif  // PGWARDEN_DETECTORS_CHANGE_POINT_H_
