#include "detectors/default_detector.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace pgwarden {

absl::StatusOr<DefaultOptions> ParseDefaultOptions(const DetectorParams& params) {
  DefaultOptions o;
  ParamReader r("default", params);
  o.window = static_cast<int>(r.Int("window", o.window, 8, RobustDetector::kMaxWindow));
  o.long_half_life = r.Double("long_half_life", o.long_half_life, 1, 1e9);
  o.clip = r.Double("clip", o.clip, 1, 1e300);
  o.z = r.Double("z", o.z, 0.1, 1e6);
  o.min_dev = r.Double("min_dev", o.min_dev, 0, 1e6);
  o.step_weight = r.Double("step_weight", o.step_weight, 0, 100);
  o.season_weight = r.Double("season_weight", o.season_weight, 0, 100);
  o.slow_factor = r.Double("slow_factor", o.slow_factor, 0, 1000);
  o.alert_z = r.Double("alert_z", o.alert_z, 0, 1e6);
  o.record_cap = r.Double("record_cap", o.record_cap, 0, 1e12);
  o.season_gate = r.Double("season_gate", o.season_gate, 0, 1e6);
  o.season_min = static_cast<int>(r.Int("season_min", o.season_min, 2, 100000000));
  o.damp = r.Double("damp", o.damp, 0, 1);
  o.suppress = static_cast<int>(r.Int("suppress", o.suppress, 0, 1000000));
  o.warmup = static_cast<int>(r.Int("warmup", o.warmup, 2, 100000000));
  o.shift_k = static_cast<int>(r.Int("shift_k", o.shift_k, 0, DefaultDetector::kMaxShiftWindow));
  o.shift_weight = r.Double("shift_weight", o.shift_weight, 0, 100);
  o.rise = r.Double("rise", o.rise, 1, 1e6);
  o.re_weight = r.Double("re_weight", o.re_weight, 0, 100);
  o.re_window =
      static_cast<int>(r.Int("re_window", o.re_window, 2, HistogramDivergence::kMaxWindow));
  o.re_levels =
      static_cast<int>(r.Int("re_levels", o.re_levels, 1, HistogramDivergence::kMaxLevels - 2));
  o.re_half_life = r.Double("re_half_life", o.re_half_life, 1, 1e9);
  o.re_min = r.Double("re_min", o.re_min, -1e6, 1e6);
  o.re_q = r.Double("re_q", o.re_q, 0, 0.49);
  o.lag = static_cast<int>(r.Int("lag", o.lag, 0, DefaultDetector::kMaxLag));
  o.lag_mask = static_cast<int>(r.Int("lag_mask", o.lag_mask, 0, 31));
  if (absl::Status s = r.Finish(); !s.ok()) return s;
  return o;
}

DefaultDetector::DefaultDetector(const DefaultOptions& options)
    : options_(options),
      window_(options.window),
      diffs_(options.window),
      residuals_(options.window),
      season_width_(absl::Hours(24) / kSeasonBins),
      hist_(options.re_levels + 2, options.re_window, options.re_half_life) {}

void DefaultDetector::Reset() {
  window_.Clear();
  diffs_.Clear();
  residuals_.Clear();
  std::fill(std::begin(season_), std::end(season_), SeasonBin{});
  record_.fill(0.0);
  hist_.Clear();
  std::fill(std::begin(recent_), std::end(recent_), 0.0);
  recent_head_ = recent_n_ = 0;
  recent_sum_ = 0.0;
  slow_.fill(0.0);
  prev_ = 0.0;
  have_prev_ = false;
  peak_ = 0.0;
  peak_age_ = 0;
  lag_head_ = lag_n_ = 0;
  seen_ = 0;
}

double DefaultDetector::Raise(double record, double dev, double decay) const {
  // A record rises at most record_cap times per sample, so one huge event
  // does not mask the next one for the record's whole half-life.
  double capped =
      options_.record_cap > 0 && record > 0 ? std::min(dev, record * options_.record_cap) : dev;
  return std::max(capped, record * decay);
}

DetectorResult DefaultDetector::Update(absl::Time t, double value, double /*weight*/) {
  DetectorResult res;
  res.baseline =
      window_.size() > 0 ? window_.Quantile(0.5) : std::numeric_limits<double>::quiet_NaN();
  if (!std::isfinite(value)) return res;
  ++seen_;
  if (window_.size() < 2) {
    window_.Add(value);
    if (have_prev_) diffs_.Add(value - prev_);
    prev_ = value;
    have_prev_ = true;
    return res;
  }
  // 1. Robust deviation from the windowed median.
  double med = res.baseline;
  double floor = 1e-6 * std::max(1.0, std::fabs(med));
  double dev = std::min(std::fabs(value - med) / std::max(window_.Scale(), floor), options_.clip);
  double dev5 = EntropyDeviation(value, floor);
  window_.Add(value);
  double dev2 = StepDeviation(value, floor);
  bool seasonal_known = false;
  double dev3 =
      options_.season_weight > 0 ? SeasonDeviation(t, value, floor, &seasonal_known) : 0.0;
  double dev4 = ShiftDeviation(value, med, floor);

  double severity = Severity({dev, dev2, dev3, dev4, dev5}, seasonal_known);
  severity /= options_.z;
  severity = Suppress(severity);
  res.score = ScoreFromSeverity(severity);
  // The score ranks; an alert also needs a deviation of alert_z robust
  // standard deviations (new records alone happen in plain noise).
  res.alert = severity >= 1.0 && seen_ > options_.warmup &&
              std::max({dev, dev2, dev3, dev4}) >= options_.alert_z;
  return res;
}

double DefaultDetector::EntropyDeviation(double value, double floor) {
  // 1b. Relative entropy of the recent distribution against the past: the
  // value binned against the window's robust range (a change of shape or
  // level that no single sample shows).
  double dev5 = 0.0;
  if (options_.re_weight > 0) {
    double lo = window_.Quantile(options_.re_q);
    double hi = window_.Quantile(1.0 - options_.re_q);
    double f = std::floor((value - lo) / std::max(hi - lo, floor) * options_.re_levels);
    f = std::clamp(f, -1.0, static_cast<double>(options_.re_levels));
    dev5 = std::max(0.0, hist_.Update(1 + static_cast<int>(f)));
  }
  return dev5;
}

double DefaultDetector::StepDeviation(double value, double floor) {
  // 2. Robust deviation of the step from the previous value.
  double step = value - prev_;
  double dev2 = 0.0;
  if (diffs_.size() >= 2) {
    double dmed = diffs_.Quantile(0.5);
    dev2 = std::min(std::fabs(step - dmed) / std::max(diffs_.Scale(), floor), options_.clip);
  }
  diffs_.Add(step);
  prev_ = value;
  return dev2;
}

double DefaultDetector::SeasonDeviation(absl::Time t, double value, double floor, bool* known) {
  // 2b. Deviation from the same time of the previous days (daily profile).
  double dev3 = 0.0;
  absl::Duration rem;
  int64_t slot = absl::IDivDuration(t - absl::UnixEpoch(), season_width_, &rem);
  if (rem < absl::ZeroDuration()) --slot;
  int64_t cycle = slot >= 0 ? slot / kSeasonBins : -((-slot - 1) / kSeasonBins) - 1;
  SeasonBin& bin = season_[static_cast<size_t>(slot - cycle * kSeasonBins)];
  if (bin.cycle != INT64_MIN && bin.cycle < cycle) {
    double e = value - bin.mean;
    if (residuals_.size() >= 2) {
      double emed = residuals_.Quantile(0.5);
      dev3 = std::min(std::fabs(e - emed) / std::max(residuals_.Scale(), floor), options_.clip);
      *known = residuals_.size() >= options_.season_min;
    }
    residuals_.Add(e);
  }
  if (bin.cycle == INT64_MIN) {
    bin.mean = value;
  } else if (bin.cycle != cycle) {
    bin.mean = 0.5 * bin.mean + 0.5 * value;
  }
  bin.cycle = cycle;
  return dev3;
}

double DefaultDetector::ShiftDeviation(double value, double med, double floor) {
  // 2c. Deviation of the mean of the last shift_k values: a sustained shift
  // that no single sample shows. The window already holds `value`.
  if (options_.shift_k <= 0) return 0.0;
  if (recent_n_ == options_.shift_k) {
    recent_sum_ -= recent_[recent_head_];
  } else {
    ++recent_n_;
  }
  recent_[recent_head_] = value;
  recent_sum_ += value;
  recent_head_ = recent_head_ + 1 == options_.shift_k ? 0 : recent_head_ + 1;
  if (recent_n_ != options_.shift_k) return 0.0;
  double m = recent_sum_ / recent_n_;
  return std::min(std::fabs(m - med) / std::max(window_.Scale(), floor), options_.clip);
}

void DefaultDetector::LagReferences(double decay, double slow_decay, Deviations& ref_fast,
                                    Deviations& ref_slow) {
  double* lf = lag_fast_[lag_head_];
  double* ls = lag_slow_[lag_head_];
  bool full = lag_n_ == options_.lag;
  double df = std::pow(decay, options_.lag), ds = std::pow(slow_decay, options_.lag);
  for (int i = 0; i < 5; ++i) {
    double cf = ref_fast[i], cs = ref_slow[i];
    if (full && (options_.lag_mask >> i & 1)) {
      ref_fast[i] = std::min(cf, lf[i] * df);
      ref_slow[i] = std::min(cs, ls[i] * ds);
    }
    lf[i] = cf;
    ls[i] = cs;
  }
  if (!full) ++lag_n_;
  lag_head_ = lag_head_ + 1 == options_.lag ? 0 : lag_head_ + 1;
}

double DefaultDetector::Severity(const Deviations& devs, bool seasonal_known) {
  // 3. Each deviation against its own decayed record: an unprecedented
  // deviation scores high whatever the series' scale and noise.
  double decay = std::exp2(-1.0 / options_.long_half_life);
  double slow_decay =
      std::exp2(-1.0 / (options_.long_half_life * std::max(options_.slow_factor, 1.0)));
  // Reference records: the current ones, or (lag) the ones of lag samples
  // ago decayed to now, so that a deviation that grows gradually (and drags
  // its record along) is compared with the record from before it grew.
  Deviations ref_fast = record_;
  Deviations ref_slow = slow_;
  if (options_.lag > 0) LagReferences(decay, slow_decay, ref_fast, ref_slow);
  Deviations r;
  for (int i = 0; i < 5; ++i) r[i] = ref_fast[i] > 0 ? devs[i] / ref_fast[i] : 0.0;
  for (int i = 0; i < 5; ++i) record_[i] = Raise(record_[i], devs[i], decay);
  if (devs[4] < options_.re_min) r[4] = 0;
  if (devs[3] < options_.min_dev) r[3] = 0;
  if (devs[2] < options_.min_dev) r[2] = 0;
  // devs[2] is the daily deviation: what happened at this time yesterday too
  // is less surprising.
  if (seasonal_known && options_.season_gate > 0 && devs[2] < options_.season_gate) {
    double g = devs[2] / options_.season_gate;
    r[0] *= g;
    r[1] *= g;
    r[3] *= g;
  }
  if (devs[0] < options_.min_dev) r[0] = 0;
  if (devs[1] < options_.min_dev) r[1] = 0;
  if (options_.slow_factor > 0) {
    // A second, slower record: an event must also stand out over a longer past.
    for (int i = 0; i < 5; ++i) {
      double q = ref_slow[i] > 0 ? devs[i] / ref_slow[i] : 0.0;
      r[i] = std::sqrt(r[i] * q);
      slow_[i] = Raise(slow_[i], devs[i], slow_decay);
    }
  }
  r[1] *= options_.step_weight;
  r[2] *= options_.season_weight;
  r[3] *= options_.shift_weight;
  r[4] *= options_.re_weight;
  return std::max({r[0], r[1], r[2], r[3], r[4]});
}

double DefaultDetector::Suppress(double severity) {
  // 4. Peak suppression: one detection per event. Within `suppress` samples
  // of a peak only a clearly larger event (rise times the peak) scores in full.
  if (options_.suppress <= 0) return severity;
  if (peak_age_ > options_.suppress) peak_ = 0.0;
  if (severity > peak_ * options_.rise) {
    peak_ = severity;
    peak_age_ = 0;
  } else {
    severity *= options_.damp;
    ++peak_age_;
  }
  return severity;
}

}  // namespace pgwarden
