#include "detectors/rate_spike.h"

#include <random>

#include "catch2/catch.hpp"
#include "tests/detectors/test_util.h"

namespace pgwarden {
namespace {

// Background delete rate: Poisson-ish noise around `mean` rows/s.
std::vector<double> Background(int n, double mean, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::poisson_distribution<int> pois(mean);
  std::vector<double> v;
  v.reserve(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) v.push_back(pois(rng));
  return v;
}

TEST_CASE("rate_spike fires within one sample on a mass delete") {
  auto d = MakeDetector("rate_spike");
  std::vector<double> bg = Background(120, 20, 1);
  for (int i = 0; i < 120; ++i) REQUIRE_FALSE(d->Update(TimeAt(i), bg[i]).alert);
  DetectorResult r = d->Update(TimeAt(120), 1000);  // batches of 1000 rows per second
  CHECK(r.alert);
  CHECK(r.score >= 0.5);
  CHECK(r.baseline == Approx(20).margin(5));
}

TEST_CASE("rate_spike keeps alerting through a sustained delete: the baseline is not pulled up") {
  auto d = MakeDetector("rate_spike");
  std::vector<double> bg = Background(120, 20, 2);
  for (int i = 0; i < 120; ++i) d->Update(TimeAt(i), bg[i]);
  int alerts = 0;
  double last_baseline = 0;
  for (int i = 120; i < 420; ++i) {  // five minutes at 1000 rows/s
    DetectorResult r = d->Update(TimeAt(i), 1000);
    alerts += r.alert;
    last_baseline = r.baseline;
  }
  CHECK(alerts == 300);
  CHECK(last_baseline < 200);
}

TEST_CASE("rate_spike stays quiet below min_rate even at a huge z-score") {
  auto d = MakeDetector("rate_spike");
  for (int i = 0; i < 100; ++i) d->Update(TimeAt(i), i % 2);  // 0/1 rows per second
  DetectorResult r = d->Update(TimeAt(100), 300);             // z ~ 600, but only 300 rows/s
  CHECK_FALSE(r.alert);
  CHECK(r.score < 0.5);
  CHECK(d->Update(TimeAt(101), 900).alert);
}

TEST_CASE("rate_spike: N(0, sigma) noise over 1e5 samples gives no alert") {
  auto d = MakeDetector("rate_spike");
  std::mt19937_64 rng(1234);
  std::normal_distribution<double> noise(0.0, 100.0);
  int alerts = 0;
  for (int i = 0; i < 100000; ++i) alerts += d->Update(TimeAt(i), 2000 + noise(rng)).alert;
  CHECK(alerts == 0);
}

TEST_CASE("rate_spike warm-up: only hard_rate alerts") {
  auto d = MakeDetector("rate_spike");
  for (int i = 0; i < 10; ++i) d->Update(TimeAt(i), 10);
  CHECK_FALSE(d->Update(TimeAt(10), 5000).alert);  // z-score gate not armed yet
  CHECK(d->Update(TimeAt(11), 25000).alert);       // hard_rate: a mass delete in the first seconds
  auto fresh = MakeDetector("rate_spike");
  CHECK(fresh->Update(TimeAt(0), 50000).alert);  // even the very first sample
  // Disabling hard_rate removes that path.
  auto soft = MakeDetector("rate_spike", {{"hard_rate", "0"}});
  CHECK_FALSE(soft->Update(TimeAt(0), 50000).alert);
}

TEST_CASE("rate_spike Reset returns to warm-up") {
  auto d = MakeDetector("rate_spike");
  for (int i = 0; i < 100; ++i) d->Update(TimeAt(i), 10);
  CHECK(d->Update(TimeAt(100), 5000).alert);
  d->Reset();
  CHECK(std::isnan(d->Update(TimeAt(101), 10).baseline));
  CHECK_FALSE(d->Update(TimeAt(102), 5000).alert);
}

TEST_CASE("rate_spike half_life in samples or time") {
  // A short half-life absorbs a level shift quickly: after 200 samples at the
  // new level the same value is normal.
  auto d = MakeDetector("rate_spike", {{"half_life", "10"}, {"warmup", "5"}});
  for (int i = 0; i < 50; ++i) d->Update(TimeAt(i), 10);
  for (int i = 50; i < 250; ++i) d->Update(TimeAt(i), 3000 + (i % 7) * 10);
  CHECK_FALSE(d->Update(TimeAt(250), 3050).alert);
  auto bad = MakeDetectorFactory("rate_spike", {{"half_life", "soon"}});
  REQUIRE_FALSE(bad.ok());
  CHECK_THAT(std::string(bad.status().message()), Catch::Contains("half_life"));
}

}  // namespace
}  // namespace pgwarden
