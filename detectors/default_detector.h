#ifndef PGWARDEN_DETECTORS_DEFAULT_DETECTOR_H_
#define PGWARDEN_DETECTORS_DEFAULT_DETECTOR_H_

#include <array>

#include "absl/status/statusor.h"
#include "detectors/detector.h"
#include "detectors/ewma_stats.h"
#include "detectors/histogram_divergence.h"
#include "detectors/robust.h"

namespace pgwarden {

// DefaultOptions configure the `default` detector. The defaults are the ones
// measured on NAB (one parameter set for the whole corpus).
struct DefaultOptions {
  // window of recent samples for the robust (median / IQR) baseline.
  int window = 1000;
  // long_half_life (samples) of the decayed record each deviation is compared to.
  double long_half_life = 500;
  // clip bounds one deviation (in robust standard deviations). Large: a
  // deviation from a near-zero scale must still be able to beat its record
  // (a clipped deviation equal to a clipped record scores exactly 0.5).
  double clip = 1e9;
  // z divides the record ratio: severity 1 (score 0.5) is a deviation z times
  // its decayed record.
  double z = 1.0;
  // suppress: after a peak, lower scores are damped for this many samples.
  int suppress = 100;
  // min_dev: deviations below this (robust stddevs) never score.
  double min_dev = 2.5;
  // step_weight scales the score of a jump from the previous value.
  double step_weight = 1.0;
  // season_weight scales the score of a deviation from the daily profile.
  double season_weight = 1.0;
  // slow_factor: if > 0, each ratio is the geometric mean of the ratios to a
  // record with long_half_life and one slow_factor times longer.
  double slow_factor = 30.0;
  // alert_z: an alert also needs a deviation of this many robust stddevs.
  double alert_z = 8.0;
  // record_cap: a record rises at most this factor per sample (0: no cap).
  double record_cap = 2.0;
  // season_gate: once the daily profile has season_min residuals, a
  // deviation that matches the profile (within season_gate robust stddevs) has
  // its other scores scaled down in proportion (0: off).
  double season_gate = 6.0;
  int season_min = 288;
  // damp multiplies scores below a recent peak.
  double damp = 0.2;
  // warmup samples during which the detector never alerts.
  int warmup = 64;
  // shift_k: if > 0, the mean of the last shift_k values is a fourth
  // deviation (a sustained shift that no single sample shows).
  int shift_k = 4;
  double shift_weight = 1.0;
  // rise: within the suppression span, a score is undamped only when its
  // severity exceeds the recent peak by this factor.
  double rise = 1.2;
  // re_weight: if > 0, a fifth deviation is the relative entropy of the
  // histogram of the last re_window values against the long-run histogram
  // (half-life re_half_life samples), as a standard-normal deviate, against
  // its own records and scaled by re_weight; below re_min it never scores.
  // Values are binned in re_levels equal bins between the re_q and 1-re_q
  // quantiles of the window, plus one bin below and one above.
  double re_weight = 1.15;
  int re_window = 96;
  int re_levels = 4;
  double re_half_life = 2000;
  double re_min = 2.0;
  double re_q = 0.01;
  // lag: if > 0, the deviations in lag_mask (bit 0 median, 1 step, 2 daily,
  // 3 shift, 4 relative entropy) are compared with their records of lag
  // samples ago, decayed to now (at most the current record): within a burst
  // of large steps the later, larger ones are measured against the record
  // from before the burst, not against the burst's own first steps.
  int lag = 8;
  int lag_mask = 2;
};

// ParseDefaultOptions validates `default` parameters by name.
absl::StatusOr<DefaultOptions> ParseDefaultOptions(const DetectorParams& params);

// DefaultDetector is the detector for any signal that names none. Five
// deviations (robust ones from the windowed median, of the step from the
// previous value, from a daily profile in 5-minute bins, of the mean of the
// last shift_k values from the median; and the relative entropy of the recent
// histogram against the long-run one) are each divided by their own decayed
// record (geometric mean of a fast and a slow record), so that an
// unprecedented deviation scores high whatever the series' scale and noise;
// the largest wins, and for `suppress` samples after a peak only a score
// `rise` times above it is left undamped (one detection per event). Alerts
// also need alert_z.
class DefaultDetector : public Detector {
 public:
  explicit DefaultDetector(const DefaultOptions& options);
  DetectorResult Update(absl::Time t, double value, double weight = 1.0) override;
  void Reset() override;
  size_t StateBytes() const override {
    return sizeof(*this) + window_.Bytes() + diffs_.Bytes() + residuals_.Bytes();
  }

 private:
  // The five deviations of one sample, in the order of lag_mask's bits.
  using Deviations = std::array<double, 5>;
  // EntropyDeviation is deviation 5 (relative entropy), binned against the
  // window before `value` joins it.
  double EntropyDeviation(double value, double floor);
  // StepDeviation is deviation 2 (the step from the previous value); records
  // the step and the value.
  double StepDeviation(double value, double floor);
  // SeasonDeviation is deviation 3 (from the daily profile) and updates the
  // profile; *known says whether the profile has season_min residuals.
  double SeasonDeviation(absl::Time t, double value, double floor, bool* known);
  // ShiftDeviation is deviation 4 (the mean of the last shift_k values from
  // the median `med`).
  double ShiftDeviation(double value, double med, double floor);
  // LagReferences replaces the masked reference records by the ones of lag
  // samples ago, decayed to now, and remembers the current ones.
  void LagReferences(double decay, double slow_decay, Deviations& ref_fast, Deviations& ref_slow);
  // Severity divides each deviation by its records, updates the records and
  // returns the largest weighted ratio (before division by z).
  double Severity(const Deviations& devs, bool seasonal_known);
  // Suppress damps a severity below a recent peak (one detection per event).
  double Suppress(double severity);
  double Raise(double record, double dev, double decay) const;
  DefaultOptions options_;
  SlidingQuantiles window_;
  SlidingQuantiles diffs_;
  SlidingQuantiles residuals_;
  struct SeasonBin {
    int64_t cycle = INT64_MIN;
    double mean = 0.0;
  };
  static constexpr int kSeasonBins = 288;  // 5-minute bins over a day
  SeasonBin season_[kSeasonBins];
  absl::Duration season_width_;
  HistogramDivergence hist_;
  // The decayed record of each deviation (fast, and slow_factor times slower).
  Deviations record_ = {};
  Deviations slow_ = {};
  static constexpr int kMaxShift = 64;

 public:
  static constexpr int kMaxShiftWindow = kMaxShift;
  static constexpr int kMaxLag = 32;

 private:
  double recent_[kMaxShift] = {};
  int recent_head_ = 0;
  int recent_n_ = 0;
  double recent_sum_ = 0.0;
  double prev_ = 0.0;
  bool have_prev_ = false;
  double peak_ = 0.0;
  int peak_age_ = 0;
  double lag_fast_[kMaxLag][5] = {};
  double lag_slow_[kMaxLag][5] = {};
  int lag_head_ = 0;
  int lag_n_ = 0;
  int64_t seen_ = 0;
};

}  // namespace pgwarden

#endif  // PGWARDEN_DETECTORS_DEFAULT_DETECTOR_H_
