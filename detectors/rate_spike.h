#ifndef PGWARDEN_DETECTORS_RATE_SPIKE_H_
#define PGWARDEN_DETECTORS_RATE_SPIKE_H_

#include "absl/status/statusor.h"
#include "detectors/detector.h"
#include "detectors/ewma_baseline.h"
#include "detectors/params.h"

namespace pgwarden {

// RateSpikeOptions configure the `rate_spike` detector (e.g. rows deleted per
// second).
struct RateSpikeOptions {
  // half_life of the EWMA baseline, in time ("5m") or samples ("300").
  HalfLife half_life{true, 300.0, absl::Minutes(5)};
  // z is the z-score threshold.
  double z = 6.0;
  // min_rate: the value must be at least this to alert.
  double min_rate = 500.0;
  // min_excess: value - baseline mean must be at least this to alert.
  double min_excess = 250.0;
  // warmup samples during which only hard_rate can alert.
  int warmup = 30;
  // hard_rate alerts on its own, even during warm-up.
  double hard_rate = 20000.0;
};

// ParseRateSpikeOptions validates `rate_spike` parameters by name.
absl::StatusOr<RateSpikeOptions> ParseRateSpikeOptions(const DetectorParams& params);

// RateSpikeDetector fires when a rate jumps far above its EWMA baseline (in
// z-score and in absolute terms). Anomalous samples barely move the baseline.
class RateSpikeDetector : public Detector {
 public:
  explicit RateSpikeDetector(const RateSpikeOptions& options) : options_(options) {}
  DetectorResult Update(absl::Time t, double value, double weight = 1.0) override;
  void Reset() override { baseline_.Reset(); }
  size_t StateBytes() const override { return sizeof(*this); }

 private:
  RateSpikeOptions options_;
  EwmaBaseline baseline_;
};

}  // namespace pgwarden

#endif  // PGWARDEN_DETECTORS_RATE_SPIKE_H_
