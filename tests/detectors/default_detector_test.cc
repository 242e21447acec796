#include "detectors/default_detector.h"

#include <random>

#include "catch2/catch.hpp"
#include "tests/detectors/test_util.h"

namespace pgwarden {
namespace {

// Scores of the default detector over noise (5-minute samples) with spikes.
std::vector<double> Scores(double scale, double offset, const std::vector<int>& spikes,
                           const DetectorParams& params = {}) {
  auto d = MakeDetector("default", params);
  std::mt19937_64 rng(99);
  std::normal_distribution<double> noise(0.0, 1.0);
  std::vector<double> out;
  for (int i = 0; i < 3000; ++i) {
    double x = noise(rng);
    for (int s : spikes) x += (i == s) ? 25.0 : 0.0;
    out.push_back(d->Update(TimeAt(i, absl::Minutes(5)), offset + scale * x).score);
  }
  return out;
}

TEST_CASE("default: scores do not depend on the series' unit or offset") {
  std::vector<double> a = Scores(1.0, 0.0, {2000});
  std::vector<double> b = Scores(1000.0, 5e6, {2000});
  REQUIRE(a.size() == b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    INFO(i);
    REQUIRE(a[i] == Approx(b[i]).margin(1e-6));
  }
  // And the spike is the top score after warm-up.
  double top = 0;
  for (size_t i = 100; i < a.size(); ++i) {
    if (i != 2000) top = std::max(top, a[i]);
  }
  CHECK(a[2000] > top);
}

TEST_CASE("default: one event, one peak - echoes within the suppression span are damped") {
  std::vector<double> one = Scores(1.0, 0.0, {2000});
  std::vector<double> two = Scores(1.0, 0.0, {2000, 2010});  // an echo 10 samples later
  auto severity = [](double score) { return score / (1.0 - score); };
  CHECK(severity(two[2010]) < 0.5 * severity(two[2000]));
  CHECK(two[2000] == Approx(one[2000]));
  // Without suppression the echo scores higher.
  std::vector<double> raw = Scores(1.0, 0.0, {2000, 2010}, {{"suppress", "0"}});
  CHECK(raw[2010] > two[2010]);
}

TEST_CASE("default: an event that recurs daily scores lower than the first time") {
  auto d = MakeDetector("default");
  std::mt19937_64 rng(5);
  std::normal_distribution<double> noise(100.0, 1.0);
  const absl::Time midnight = absl::FromUnixSeconds(1699920000);
  const int kPerDay = 288;  // 5-minute samples
  std::vector<double> spike_scores;
  for (int i = 0; i < 8 * kPerDay; ++i) {
    bool spike = i % kPerDay == 40;  // every day at 03:20
    DetectorResult r = d->Update(midnight + absl::Minutes(5 * i), noise(rng) + (spike ? 30 : 0));
    if (spike) spike_scores.push_back(r.score);
  }
  REQUIRE(spike_scores.size() == 8);
  CHECK(spike_scores.back() < 0.5 * spike_scores.front());
  CHECK(spike_scores.back() < 0.5);
}

}  // namespace
}  // namespace pgwarden
