#ifndef PGWARDEN_DETECTORS_RATIO_H_
#define PGWARDEN_DETECTORS_RATIO_H_

#include "absl/status/statusor.h"
#include "detectors/detector.h"
#include "detectors/params.h"

namespace pgwarden {

// RatioOptions configure the `ratio` detector (failures / attempts).
struct RatioOptions {
  // half_life of the baseline failure and attempt counts.
  HalfLife half_life{true, 900.0, absl::Minutes(15)};
  // min_attempts in the interval before an alert is possible.
  double min_attempts = 20;
  // p is the significance level of the one-sided binomial test.
  double p = 1e-6;
  // min_ratio is the observed failures/attempts needed to alert.
  double min_ratio = 0.2;
  // warmup samples during which the detector never alerts.
  int warmup = 10;
};

// ParseRatioOptions validates `ratio` parameters by name.
absl::StatusOr<RatioOptions> ParseRatioOptions(const DetectorParams& params);

// BinomialUpperTailBound returns an upper bound (Chernoff, exp(-n KL(k/n||p)))
// of ln P(X >= k) for X ~ Binomial(n, p); 0 when k/n <= p.
double BinomialLogTailBound(double k, double n, double p);

// RatioDetector tests the failures of each interval (value) among its
// attempts (weight) against the baseline failure rate. It stays quiet at low
// volume and fires on a jump.
class RatioDetector : public Detector {
 public:
  explicit RatioDetector(const RatioOptions& options) : options_(options) {}
  DetectorResult Update(absl::Time t, double value, double weight = 1.0) override;
  void Reset() override;
  size_t StateBytes() const override { return sizeof(*this); }

 private:
  RatioOptions options_;
  double failures_ = 0.0;  // decayed sums
  double attempts_ = 0.0;
  int64_t seen_ = 0;
  absl::Time last_t_ = absl::InfinitePast();
};

}  // namespace pgwarden

#endif  // PGWARDEN_DETECTORS_RATIO_H_
