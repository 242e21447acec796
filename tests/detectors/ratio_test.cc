#include "detectors/ratio.h"

#include <cmath>
#include <random>

#include "catch2/catch.hpp"
#include "tests/detectors/test_util.h"

namespace pgwarden {
namespace {

TEST_CASE("BinomialLogTailBound bounds the exact tail from above") {
  // P(X >= 10 | n=20, p=0.1): exact is about 7.15e-6.
  double bound = BinomialLogTailBound(10, 20, 0.1);
  CHECK(bound >= std::log(7.15e-6));
  CHECK(bound < std::log(1e-3));
  CHECK(BinomialLogTailBound(1, 20, 0.1) == 0.0);  // below the mean: no evidence
  CHECK(BinomialLogTailBound(20, 20, 0.5) == Approx(20 * std::log(0.5)));
}

TEST_CASE("ratio fires within one sample on a jump in the failure ratio") {
  auto d = MakeDetector("ratio");
  std::mt19937_64 rng(5);
  std::binomial_distribution<int> fails(100, 0.02);
  for (int i = 0; i < 60; ++i) REQUIRE_FALSE(d->Update(TimeAt(i), fails(rng), 100).alert);
  DetectorResult r = d->Update(TimeAt(60), 40, 100);
  CHECK(r.alert);
  CHECK(r.score >= 0.5);
  CHECK(r.baseline == Approx(0.02).margin(0.01));
}

TEST_CASE("ratio stays quiet at low volume") {
  auto d = MakeDetector("ratio");
  for (int i = 0; i < 60; ++i) d->Update(TimeAt(i), 0, 100);
  DetectorResult r = d->Update(TimeAt(60), 10, 10);  // all 10 attempts failed, but only 10
  CHECK_FALSE(r.alert);
  CHECK(r.score < 0.5);
  CHECK(d->Update(TimeAt(61), 20, 20).alert);  // the same at min_attempts fires
}

TEST_CASE("ratio stays quiet when a high background rate is normal") {
  auto d = MakeDetector("ratio");
  std::mt19937_64 rng(9);
  std::binomial_distribution<int> fails(50, 0.3);  // 30% rollbacks is this app's normal
  int alerts = 0;
  for (int i = 0; i < 100000; ++i) alerts += d->Update(TimeAt(i), fails(rng), 50).alert;
  CHECK(alerts == 0);
}

TEST_CASE("ratio needs min_ratio even when significant") {
  auto d = MakeDetector("ratio");
  for (int i = 0; i < 600; ++i) d->Update(TimeAt(i), 0, 1000);
  DetectorResult r = d->Update(TimeAt(600), 100, 1000);  // 10%: hugely significant, below 0.2
  CHECK_FALSE(r.alert);
  CHECK(d->Update(TimeAt(601), 300, 1000).alert);
}

TEST_CASE("ratio: N(0, sigma) noise on the failure count gives no alert") {
  auto d = MakeDetector("ratio");
  std::mt19937_64 rng(77);
  std::normal_distribution<double> noise(0.0, 3.0);
  int alerts = 0;
  for (int i = 0; i < 100000; ++i) {
    double f = std::max(0.0, 10 + noise(rng));
    alerts += d->Update(TimeAt(i), f, 200).alert;
  }
  CHECK(alerts == 0);
}

TEST_CASE("ratio warm-up and Reset") {
  auto d = MakeDetector("ratio", {{"warmup", "3"}});
  d->Update(TimeAt(0), 0, 100);
  d->Update(TimeAt(1), 0, 100);
  CHECK_FALSE(d->Update(TimeAt(2), 90, 100).alert);
  CHECK(d->Update(TimeAt(3), 90, 100).alert);
  d->Reset();
  CHECK(d->Update(TimeAt(4), 0, 100).baseline == Approx(0.5));  // the prior only
  CHECK_FALSE(d->Update(TimeAt(5), 90, 100).alert);
}

}  // namespace
}  // namespace pgwarden
