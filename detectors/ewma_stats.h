#ifndef PGWARDEN_DETECTORS_EWMA_STATS_H_
#define PGWARDEN_DETECTORS_EWMA_STATS_H_

#include <cmath>
#include <cstdint>

namespace pgwarden {

// EwmaStats is an exponentially weighted mean and variance. During the first
// samples the weight of a new sample is at least 1/n, so early estimates are
// plain averages rather than biased towards the first value.
struct EwmaStats {
  double mean = 0.0;
  double var = 0.0;
  int64_t n = 0;

  // Add folds in x with weight alpha (scaled by `factor`, e.g. to down-weight
  // anomalies).
  void Add(double x, double alpha, double factor = 1.0) {
    ++n;
    if (n == 1) {
      mean = x;
      var = 0.0;
      return;
    }
    double a = alpha > 1.0 / static_cast<double>(n) ? alpha : 1.0 / static_cast<double>(n);
    a *= factor;
    double diff = x - mean;
    double incr = a * diff;
    mean += incr;
    var = (1.0 - a) * (var + diff * incr);
  }
  double stddev() const { return std::sqrt(var > 0.0 ? var : 0.0); }
  void Reset() { *this = EwmaStats{}; }
};

}  // namespace pgwarden

#endif  // PGWARDEN_DETECTORS_EWMA_STATS_H_
