#ifndef PGWARDEN_DETECTORS_CHANGE_POINT_H_
#define PGWARDEN_DETECTORS_CHANGE_POINT_H_

#include <algorithm>
#include <utility>

#include "absl/status/statusor.h"
#include "detectors/detector.h"
#include "detectors/ewma.h"
#include "detectors/ewma_baseline.h"

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

// CusumDrift is the statistic of a two-sided tabular CUSUM.
struct CusumDrift {
  double up = 0.0;
  double down = 0.0;

  // Add folds in the standardized residual z less the slack k, and returns
  // the upward and downward drifts.
  std::pair<double, double> Add(double z, double k) {
    up = std::max(0.0, up + z - k);
    down = std::max(0.0, down - z - k);
    return {up, down};
  }
};

// PageHinkleyDrift is the statistic of a two-sided Page-Hinkley test: the
// cumulative sum of residuals against its running extreme.
struct PageHinkleyDrift {
  double sum_up = 0.0, min_up = 0.0;
  double sum_down = 0.0, min_down = 0.0;

  // Add folds in the standardized residual z less the slack k, and returns
  // the upward and downward drifts.
  std::pair<double, double> Add(double z, double k) {
    sum_up += z - k;
    min_up = std::min(min_up, sum_up);
    sum_down += -z - k;
    min_down = std::min(min_down, sum_down);
    std::pair<double, double> drifts{sum_up - min_up, sum_down - min_down};
    // Keep the sums bounded: only the distance to the extreme matters.
    if (sum_up < -1e12 || sum_down < -1e12) {
      sum_up -= min_up;
      min_up = 0.0;
      sum_down -= min_down;
      min_down = 0.0;
    }
    return drifts;
  }
};

// ChangePointDetector accumulates the standardized residuals of the samples
// against a slow EWMA baseline in a `Drift` statistic (CusumDrift or
// PageHinkleyDrift) and alerts when the drift crosses `h`. During the warm-up
// it only learns. After an alert the statistic restarts and the baseline
// re-centres on the new level.
template <typename Drift>
class ChangePointDetector : public Detector {
 public:
  explicit ChangePointDetector(const ChangePointOptions& options) : options_(options) {}
  DetectorResult Update(absl::Time t, double value, double weight = 1.0) override;
  void Reset() override {
    baseline_.Reset();
    drift_ = Drift{};
  }
  size_t StateBytes() const override { return sizeof(*this); }

 private:
  ChangePointOptions options_;
  EwmaBaseline baseline_;
  Drift drift_;
};

extern template class ChangePointDetector<CusumDrift>;
extern template class ChangePointDetector<PageHinkleyDrift>;

// CusumDetector is the `cusum` detector, a two-sided tabular CUSUM.
using CusumDetector = ChangePointDetector<CusumDrift>;
// PageHinkleyDetector is the `page_hinkley` detector, the two-sided
// Page-Hinkley test.
using PageHinkleyDetector = ChangePointDetector<PageHinkleyDrift>;

}  // namespace pgwarden

#endif  // PGWARDEN_DETECTORS_CHANGE_POINT_H_
