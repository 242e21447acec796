#ifndef PGWARDEN_DETECTORS_DETECTOR_H_
#define PGWARDEN_DETECTORS_DETECTOR_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace pgwarden {

// DetectorResult is what a detector says about one observation.
struct DetectorResult {
  // score is in [0, 1]: 0 is perfectly normal, 1 is certainly anomalous.
  double score = 0.0;
  // alert is true when the observation crosses the detector's alert
  // threshold. Detectors never alert during warm-up.
  bool alert = false;
  // baseline is the detector's current idea of "normal" for the series (for
  // messages and custom_details); NaN when it has none yet.
  double baseline = 0.0;
};

// Detector is a streaming anomaly detector over one series: O(1) time and
// bounded memory per Update.
class Detector {
 public:
  virtual ~Detector() = default;
  // Update feeds one observation taken at `t`. For ratio detectors `value` is
  // the count of failures in the interval and `weight` the count of attempts;
  // other detectors ignore `weight`.
  virtual DetectorResult Update(absl::Time t, double value, double weight = 1.0) = 0;
  // Reset forgets all state (used after a counter reset or a TRUNCATE).
  virtual void Reset() = 0;
  // StateBytes is the memory this detector holds for its series.
  virtual size_t StateBytes() const = 0;
};

// DetectorParams are KEY=VALUE settings from the config file or from
// `pgwarden replay --set KEY=VALUE`.
using DetectorParams = std::map<std::string, std::string>;

// DetectorFactory builds a detector, or an InvalidArgument naming the bad key.
// Each call returns a fresh instance with its own state; the factory itself
// is immutable and can be shared across threads.
class DetectorFactory {
 public:
  virtual ~DetectorFactory() = default;
  virtual std::unique_ptr<Detector> Create() const = 0;
};

// MakeDetectorFactory validates `params` for the detector called `name` and
// returns a factory for it. Unknown names and unknown or invalid keys are
// InvalidArgument errors that name them.
absl::StatusOr<std::shared_ptr<const DetectorFactory>> MakeDetectorFactory(
    const std::string& name, const DetectorParams& params);

// DetectorNames lists the names MakeDetectorFactory accepts.
std::vector<std::string> DetectorNames();

// kDefaultDetector is the detector replay uses when none is named, and the
// agent's default for unlabelled series.
inline constexpr char kDefaultDetector[] = "default";

}  // namespace pgwarden

#endif  // PGWARDEN_DETECTORS_DETECTOR_H_
