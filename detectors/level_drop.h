#ifndef PGWARDEN_DETECTORS_LEVEL_DROP_H_
#define PGWARDEN_DETECTORS_LEVEL_DROP_H_

#include <array>
#include <cstdint>

#include "absl/status/statusor.h"
#include "detectors/detector.h"

namespace pgwarden {

// LevelDropOptions configure the `level_drop` detector (row counts).
struct LevelDropOptions {
  // window over which the baseline (the recent high level) is the maximum.
  absl::Duration window = absl::Seconds(120);
  // buckets the window is divided into (fixed memory).
  int buckets = 12;
  // min_rows and min_fraction: a drop of at least both fires.
  double min_rows = 1000;
  double min_fraction = 0.002;
  // large_fraction and min_rows_small: losing this fraction of a small table
  // (but at least min_rows_small rows) fires too.
  double large_fraction = 0.5;
  double min_rows_small = 20;
  // warmup samples during which the detector never alerts.
  int warmup = 1;
};

// ParseLevelDropOptions validates `level_drop` parameters by name.
absl::StatusOr<LevelDropOptions> ParseLevelDropOptions(const DetectorParams& params);

// LevelDropDetector fires when a level (live rows) falls well below its
// recent maximum. Growth raises the baseline at once.
class LevelDropDetector : public Detector {
 public:
  static constexpr int kMaxBuckets = 64;
  explicit LevelDropDetector(const LevelDropOptions& options);
  DetectorResult Update(absl::Time t, double value, double weight = 1.0) override;
  void Reset() override;
  size_t StateBytes() const override { return sizeof(*this); }

 private:
  struct Bucket {
    int64_t index = INT64_MIN;
    double max = 0.0;
  };
  LevelDropOptions options_;
  absl::Duration bucket_width_;
  std::array<Bucket, kMaxBuckets> buckets_;
  int64_t last_index_ = INT64_MIN;
  int64_t seen_ = 0;
};

}  // namespace pgwarden

#endif  // PGWARDEN_DETECTORS_LEVEL_DROP_H_
