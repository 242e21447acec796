#ifndef PGWARDEN_DETECTORS_SEASONAL_H_
#define PGWARDEN_DETECTORS_SEASONAL_H_

#include <vector>

#include "absl/status/statusor.h"
#include "detectors/detector.h"
#include "detectors/ewma.h"
#include "detectors/ewma_stats.h"

namespace pgwarden {

// SeasonalOptions configure the `seasonal` detector.
struct SeasonalOptions {
  // period of the cycle (1d: daily; 7d with 168 bins: hour of week).
  absl::Duration period = absl::Hours(24);
  // bins the period is divided into (24: hour of day).
  int bins = 24;
  // half_life of each bin's mean and variance, in cycles.
  double half_life_cycles = 4.0;
  // z is the alert threshold on |value - bin mean| / bin stddev.
  double z = 6.0;
  Direction direction = Direction::kBoth;
  // warmup_cycles: a bin alerts only after it was seen in this many earlier cycles.
  int warmup_cycles = 1;
  // min_stddev is a floor on the bin stddev (absolute units).
  double min_stddev = 1e-9;
};

// ParseSeasonalOptions validates `seasonal` parameters by name.
absl::StatusOr<SeasonalOptions> ParseSeasonalOptions(const DetectorParams& params);

// SeasonalDetector keeps a profile of the series over a cycle (hour of day by
// default): each bin an EWMA mean and variance, and scores a value against its
// bin.
class SeasonalDetector : public Detector {
 public:
  static constexpr int kMaxBins = 4096;
  explicit SeasonalDetector(const SeasonalOptions& options);
  DetectorResult Update(absl::Time t, double value, double weight = 1.0) override;
  void Reset() override;
  size_t StateBytes() const override { return sizeof(*this) + bins_.capacity() * sizeof(Bin); }

 private:
  struct Bin {
    EwmaStats stats;
    int64_t last_cycle = INT64_MIN;
    int cycles = 0;  // distinct cycles seen before the current one
  };
  SeasonalOptions options_;
  absl::Duration bin_width_;
  std::vector<Bin> bins_;
  double spacing_ = 0.0;  // EWMA of the seconds between samples
  absl::Time last_t_ = absl::InfinitePast();
};

}  // namespace pgwarden

#endif  // PGWARDEN_DETECTORS_SEASONAL_H_
