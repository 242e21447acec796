#include "detectors/ratio.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace pgwarden {
namespace {
// Prior of the baseline rate: half a failure in one attempt, so that a
// series that never failed still has a small, positive baseline.
constexpr double kPriorFailures = 0.5;
constexpr double kPriorAttempts = 1.0;
}  // namespace

absl::StatusOr<RatioOptions> ParseRatioOptions(const DetectorParams& params) {
  RatioOptions o;
  ParamReader r("ratio", params);
  o.half_life = r.HalfLifeParam("half_life", o.half_life);
  o.min_attempts = r.Double("min_attempts", o.min_attempts, 0, 1e18);
  o.p = r.Double("p", o.p, 1e-300, 0.5);
  o.min_ratio = r.Double("min_ratio", o.min_ratio, 0, 1);
  o.warmup = static_cast<int>(r.Int("warmup", o.warmup, 0, 100000000));
  if (absl::Status s = r.Finish(); !s.ok()) return s;
  return o;
}

double BinomialLogTailBound(double k, double n, double p) {
  if (n <= 0.0) return 0.0;
  double q = k / n;
  if (q <= p) return 0.0;
  if (p <= 0.0) return -std::numeric_limits<double>::infinity();
  double kl = q * std::log(q / p);
  if (q < 1.0) kl += (1.0 - q) * std::log((1.0 - q) / (1.0 - p));
  return -n * kl;
}

void RatioDetector::Reset() {
  failures_ = attempts_ = 0.0;
  seen_ = 0;
  last_t_ = absl::InfinitePast();
}

DetectorResult RatioDetector::Update(absl::Time t, double value, double weight) {
  DetectorResult res;
  double base = (failures_ + kPriorFailures) / (attempts_ + kPriorAttempts);
  res.baseline = base;
  if (!std::isfinite(value) || !std::isfinite(weight)) return res;
  double n = std::max(weight, 0.0);
  double k = std::clamp(value, 0.0, n);
  double alpha =
      options_.half_life.Alpha(last_t_ == absl::InfinitePast() ? absl::Seconds(1) : t - last_t_);
  last_t_ = t;
  ++seen_;

  double severity = 0.0;
  if (n > 0.0) {
    double observed = k / n;
    double log_p = BinomialLogTailBound(k, n, base);
    auto ratio = [](double x, double threshold) {
      return threshold > 0.0 ? x / threshold : std::numeric_limits<double>::infinity();
    };
    double r_sig = log_p / std::log(options_.p);
    severity =
        std::min({r_sig, ratio(observed, options_.min_ratio), ratio(n, options_.min_attempts)});
  }
  res.score = ScoreFromSeverity(severity);
  res.alert = severity >= 1.0 && seen_ > options_.warmup;
  // The baseline learns from normal intervals only.
  if (!res.alert) {
    double keep = 1.0 - alpha;
    failures_ = failures_ * keep + k;
    attempts_ = attempts_ * keep + n;
  }
  return res;
}

}  // namespace pgwarden
