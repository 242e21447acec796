#include "detectors/level_drop.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "detectors/params.h"

namespace pgwarden {

absl::StatusOr<LevelDropOptions> ParseLevelDropOptions(const DetectorParams& params) {
  LevelDropOptions o;
  ParamReader r("level_drop", params);
  o.window = r.Duration("window", o.window);
  o.buckets = static_cast<int>(r.Int("buckets", o.buckets, 1, LevelDropDetector::kMaxBuckets));
  o.min_rows = r.Double("min_rows", o.min_rows, 0, 1e18);
  o.min_fraction = r.Double("min_fraction", o.min_fraction, 0, 1);
  o.large_fraction = r.Double("large_fraction", o.large_fraction, 0, 1);
  o.min_rows_small = r.Double("min_rows_small", o.min_rows_small, 0, 1e18);
  o.warmup = static_cast<int>(r.Int("warmup", o.warmup, 0, 1000000));
  if (absl::Status s = r.Finish(); !s.ok()) return s;
  return o;
}

LevelDropDetector::LevelDropDetector(const LevelDropOptions& options)
    : options_(options), bucket_width_(options.window / options.buckets) {
  if (bucket_width_ <= absl::ZeroDuration()) bucket_width_ = absl::Nanoseconds(1);
}

void LevelDropDetector::Reset() {
  buckets_.fill(Bucket{});
  last_index_ = INT64_MIN;
  seen_ = 0;
}

DetectorResult LevelDropDetector::Update(absl::Time t, double value, double /*weight*/) {
  DetectorResult res;
  res.baseline = std::numeric_limits<double>::quiet_NaN();
  if (!std::isfinite(value)) return res;
  absl::Duration rem;
  int64_t index = absl::IDivDuration(t - absl::UnixEpoch(), bucket_width_, &rem);
  if (rem < absl::ZeroDuration()) index -= 1;
  // Time never runs backwards for the buckets.
  if (last_index_ != INT64_MIN) index = std::max(index, last_index_);
  last_index_ = index;
  const int n = options_.buckets;

  // Baseline: the maximum over the buckets still inside the window.
  bool have = false;
  double baseline = 0.0;
  for (int i = 0; i < n; ++i) {
    const Bucket& b = buckets_[i];
    if (b.index != INT64_MIN && b.index > index - n) {
      baseline = have ? std::max(baseline, b.max) : b.max;
      have = true;
    }
  }
  Bucket& cur = buckets_[static_cast<size_t>(((index % n) + n) % n)];
  if (cur.index != index) {
    cur.index = index;
    cur.max = value;
  } else {
    cur.max = std::max(cur.max, value);
  }
  ++seen_;
  if (!have) return res;
  res.baseline = baseline;
  double drop = baseline - value;
  if (drop <= 0.0 || baseline <= 0.0) return res;
  double fraction = drop / baseline;
  auto ratio = [](double x, double threshold) {
    return threshold > 0.0 ? x / threshold : std::numeric_limits<double>::infinity();
  };
  double r1 = std::min(ratio(drop, options_.min_rows), ratio(fraction, options_.min_fraction));
  double r2 =
      std::min(ratio(drop, options_.min_rows_small), ratio(fraction, options_.large_fraction));
  double severity = std::max(r1, r2);
  res.score = ScoreFromSeverity(severity);
  res.alert = severity >= 1.0 && seen_ > options_.warmup;
  return res;
}

}  // namespace pgwarden
