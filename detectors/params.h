#ifndef PGWARDEN_DETECTORS_PARAMS_H_
#define PGWARDEN_DETECTORS_PARAMS_H_

#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <set>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "detectors/detector.h"

namespace pgwarden {

// HalfLife is the memory of an exponentially weighted average, either in
// samples ("300") or in time ("5m", "300s").
struct HalfLife {
  bool time_based = false;
  double samples = 100.0;
  absl::Duration duration = absl::Minutes(5);

  // Alpha returns the weight of a new observation that arrives `dt` after the
  // previous one (dt is ignored for sample-based half lives).
  double Alpha(absl::Duration dt) const {
    if (!time_based) return 1.0 - std::exp2(-1.0 / samples);
    double ratio = absl::FDivDuration(dt, duration);
    if (!(ratio > 0.0)) ratio = 1e-3 / std::max(1.0, absl::ToDoubleSeconds(duration));
    return 1.0 - std::exp2(-ratio);
  }
};

// ParamReader reads a detector's KEY=VALUE parameters by name. Each getter
// returns the default when the key is absent and records the first error
// ("detector NAME: parameter "KEY": ...") when the value is invalid; Finish
// reports that error, or an unknown key, as InvalidArgument.
class ParamReader {
 public:
  ParamReader(std::string detector, const DetectorParams& params)
      : detector_(std::move(detector)), params_(params) {}

  // Double reads a finite number in [min, max].
  double Double(const std::string& key, double def, double min, double max);
  // Int reads an integer in [min, max].
  int64_t Int(const std::string& key, int64_t def, int64_t min, int64_t max);
  // Duration reads "120s", "5m", "1h30m" (a bare number is seconds); must be > 0.
  absl::Duration Duration(const std::string& key, absl::Duration def);
  // HalfLifeParam reads a duration ("5m": time-based) or a bare number of
  // samples ("300": sample-based), > 0.
  HalfLife HalfLifeParam(const std::string& key, const HalfLife& def);
  // Enum reads one of `allowed`.
  std::string Enum(const std::string& key, const std::string& def,
                   std::initializer_list<const char*> allowed);
  // Finish returns the first error, or InvalidArgument for the first key that
  // no getter asked for.
  absl::Status Finish() const;

 private:
  const std::string* Find(const std::string& key);
  void Fail(const std::string& key, const std::string& what);

  std::string detector_;
  const DetectorParams& params_;
  std::set<std::string> known_;
  absl::Status error_;
};

// ScoreFromSeverity maps a severity r (1 = exactly at the alert threshold) to
// a score in [0, 1]: 0 for r <= 0, 0.5 at r = 1, approaching 1 as r grows
// (r / (1 + r): it does not saturate, so large severities still rank).
inline double ScoreFromSeverity(double r) {
  if (!(r > 0.0)) return 0.0;
  if (std::isinf(r)) return 1.0;
  return r / (1.0 + r);
}

}  // namespace pgwarden

#endif  // PGWARDEN_DETECTORS_PARAMS_H_
