#ifndef PGWARDEN_TESTS_DETECTORS_TEST_UTIL_H_
#define PGWARDEN_TESTS_DETECTORS_TEST_UTIL_H_

#include <memory>
#include <string>

#include "absl/time/time.h"
#include "catch2/catch.hpp"
#include "detectors/detector.h"

namespace pgwarden {

// MakeDetector builds a detector by registered name, failing the test on error.
inline std::unique_ptr<Detector> MakeDetector(const std::string& name,
                                              const DetectorParams& params = {}) {
  auto factory = MakeDetectorFactory(name, params);
  INFO(factory.status().ToString());
  REQUIRE(factory.ok());
  return (*factory)->Create();
}

// TimeAt is the time of sample i of a series sampled every `step`.
inline absl::Time TimeAt(int64_t i, absl::Duration step = absl::Seconds(1)) {
  return absl::FromUnixSeconds(1700000000) + i * step;
}

}  // namespace pgwarden

#endif  // PGWARDEN_TESTS_DETECTORS_TEST_UTIL_H_
