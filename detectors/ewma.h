#ifndef PGWARDEN_DETECTORS_EWMA_H_
#define PGWARDEN_DETECTORS_EWMA_H_

#include "absl/status/statusor.h"
#include "detectors/detector.h"
#include "detectors/ewma_baseline.h"
#include "detectors/params.h"

namespace pgwarden {

// Direction says which deviations a detector reports.
enum class Direction { kBoth, kUp, kDown };

// ParseDirection reads "both" | "up" | "down" into `out`, recording an error in `r`.
Direction ReadDirection(ParamReader& r, const std::string& key, Direction def);

// DirectedZ returns the deviation z in the requested direction (never negative).
inline double DirectedZ(double z, Direction d) {
  switch (d) {
    case Direction::kUp:
      return z > 0 ? z : 0;
    case Direction::kDown:
      return z < 0 ? -z : 0;
    case Direction::kBoth:
      break;
  }
  return z < 0 ? -z : z;
}

// EwmaOptions configure the `ewma` detector.
struct EwmaOptions {
  // half_life of the mean and variance, in samples ("100") or time ("5m").
  HalfLife half_life{false, 100.0, absl::Minutes(5)};
  // z is the alert threshold on |value - mean| / stddev.
  double z = 6.0;
  // direction: both, up or down.
  Direction direction = Direction::kBoth;
  // warmup samples during which the detector never alerts.
  int warmup = 30;
  // min_stddev is a floor on the standard deviation (absolute units).
  double min_stddev = 1e-9;
};

// ParseEwmaOptions validates `ewma` parameters by name.
absl::StatusOr<EwmaOptions> ParseEwmaOptions(const DetectorParams& params);

// EwmaDetector is an EWMA mean/variance z-score.
class EwmaDetector : public Detector {
 public:
  explicit EwmaDetector(const EwmaOptions& options) : options_(options) {}
  DetectorResult Update(absl::Time t, double value, double weight = 1.0) override;
  void Reset() override { baseline_.Reset(); }
  size_t StateBytes() const override { return sizeof(*this); }

 private:
  EwmaOptions options_;
  EwmaBaseline baseline_;
};

}  // namespace pgwarden

#endif  // PGWARDEN_DETECTORS_EWMA_H_
