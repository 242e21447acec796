// Shared behaviour of the issue-4 suite: ewma, robust, cusum, page_hinkley,
// seasonal and default.
#include <cmath>
#include <random>
#include <string>

#include "catch2/catch.hpp"
#include "detectors/robust.h"
#include "tests/detectors/test_util.h"

namespace pgwarden {
namespace {

const char* const kSuite[] = {"ewma", "robust", "cusum", "page_hinkley", "seasonal", "default"};

// Noise returns N(100, 5) with a fixed seed.
std::vector<double> Noise(int n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> d(100.0, 5.0);
  std::vector<double> v;
  v.reserve(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) v.push_back(d(rng));
  return v;
}

// Warm feeds `n` noise samples (one per minute: the seasonal detector needs
// a day of history before it may alert) and returns the next index.
int Warm(Detector& d, int n, uint64_t seed) {
  std::vector<double> v = Noise(n, seed);
  for (int i = 0; i < n; ++i) d.Update(TimeAt(i, absl::Minutes(1)), v[i]);
  return n;
}

TEST_CASE("suite: a clean spike fires within one sample (level shift for change points)") {
  for (const char* name : kSuite) {
    INFO(name);
    auto d = MakeDetector(name);
    int i = Warm(*d, 3000, 11);
    DetectorResult r = d->Update(TimeAt(i, absl::Minutes(1)), 400);  // +60 sigma
    CHECK(r.alert);
    CHECK(r.score >= 0.5);
    CHECK(r.score <= 1.0);
  }
}

TEST_CASE("suite: a clean drop fires within one sample") {
  for (const char* name : kSuite) {
    INFO(name);
    auto d = MakeDetector(name);
    int i = Warm(*d, 3000, 12);
    CHECK(d->Update(TimeAt(i, absl::Minutes(1)), -200).alert);
  }
}

TEST_CASE("suite: direction=up ignores drops") {
  for (const char* name : {"ewma", "robust", "cusum", "page_hinkley", "seasonal"}) {
    INFO(name);
    auto d = MakeDetector(name, {{"direction", "up"}});
    int i = Warm(*d, 3000, 13);
    CHECK_FALSE(d->Update(TimeAt(i, absl::Minutes(1)), -200).alert);
    CHECK(d->Update(TimeAt(i + 1, absl::Minutes(1)), 400).alert);
  }
}

TEST_CASE("suite: N(0, sigma) noise over 1e5 samples gives no alert at default settings") {
  for (const char* name : kSuite) {
    INFO(name);
    auto d = MakeDetector(name);
    std::mt19937_64 rng(2024);
    std::normal_distribution<double> noise(0.0, 1.0);
    int alerts = 0;
    double max_score = 0;
    for (int i = 0; i < 100000; ++i) {
      DetectorResult r = d->Update(TimeAt(i, absl::Minutes(1)), noise(rng));
      alerts += r.alert;
      REQUIRE(r.score >= 0.0);
      REQUIRE(r.score <= 1.0);
      max_score = std::max(max_score, r.score);
    }
    CHECK(alerts == 0);
    CHECK(max_score > 0.0);  // the score is alive, just below the alert
  }
}

TEST_CASE("suite: never alerts during warm-up") {
  for (const char* name : kSuite) {
    INFO(name);
    auto d = MakeDetector(name);
    // Ten quiet samples then an outrageous one: still warming up.
    for (int i = 0; i < 10; ++i) d->Update(TimeAt(i, absl::Minutes(1)), 100 + (i % 3));
    CHECK_FALSE(d->Update(TimeAt(10, absl::Minutes(1)), 1e6).alert);
  }
}

TEST_CASE("suite: Reset forgets the history") {
  for (const char* name : kSuite) {
    INFO(name);
    auto d = MakeDetector(name);
    int i = Warm(*d, 3000, 14);
    size_t bytes = d->StateBytes();
    d->Reset();
    // Back in warm-up: the spike that fired before does not fire now.
    CHECK_FALSE(d->Update(TimeAt(i, absl::Minutes(1)), 100).alert);
    CHECK_FALSE(d->Update(TimeAt(i + 1, absl::Minutes(1)), 400).alert);
    CHECK(d->StateBytes() == bytes);  // memory is fixed
  }
}

TEST_CASE("ewma adapts to a new level - cusum catches a small sustained shift ewma misses") {
  auto ewma = MakeDetector("ewma");
  auto cusum = MakeDetector("cusum");
  std::vector<double> v = Noise(4000, 15);
  for (int i = 0; i < 2000; ++i) {
    ewma->Update(TimeAt(i), v[i]);
    cusum->Update(TimeAt(i), v[i]);
  }
  int ewma_alerts = 0, cusum_first = -1;
  for (int i = 2000; i < 2100; ++i) {
    double x = v[i] + 7.5;  // +1.5 sigma
    ewma_alerts += ewma->Update(TimeAt(i), x).alert;
    if (cusum->Update(TimeAt(i), x).alert && cusum_first < 0) cusum_first = i - 2000;
  }
  CHECK(ewma_alerts == 0);
  CHECK(cusum_first >= 0);
  CHECK(cusum_first < 30);
}

TEST_CASE("robust: a burst of outliers does not inflate the baseline") {
  auto robust = MakeDetector("robust");
  std::vector<double> v = Noise(1000, 16);
  for (int i = 0; i < 500; ++i) robust->Update(TimeAt(i), v[i]);
  for (int i = 500; i < 510; ++i) robust->Update(TimeAt(i), 1000);  // 10 of 128: < 25%
  DetectorResult r = robust->Update(TimeAt(510), 400);
  CHECK(r.alert);
  CHECK(r.baseline == Approx(100).margin(5));
}

TEST_CASE("SlidingQuantiles matches a sorted copy of the window") {
  SlidingQuantiles q(7);
  std::mt19937_64 rng(3);
  std::uniform_int_distribution<int> d(0, 20);
  std::vector<double> all;
  for (int i = 0; i < 500; ++i) {
    double x = d(rng);
    all.push_back(x);
    q.Add(x);
    std::vector<double> w(all.end() - std::min<long>(7, static_cast<long>(all.size())), all.end());
    std::sort(w.begin(), w.end());
    REQUIRE(q.size() == static_cast<int>(w.size()));
    REQUIRE(q.Quantile(0.0) == w.front());
    REQUIRE(q.Quantile(1.0) == w.back());
    if (w.size() == 7) REQUIRE(q.Quantile(0.5) == w[3]);
  }
}

TEST_CASE("seasonal: the daily profile makes the usual peak normal and a missing peak anomalous") {
  auto seasonal = MakeDetector("seasonal");
  auto ewma = MakeDetector("ewma");
  std::mt19937_64 rng(17);
  std::normal_distribution<double> noise(0.0, 2.0);
  auto value = [&](int minute) {
    int hour = (minute / 60) % 24;
    return (hour >= 12 && hour < 14 ? 300.0 : 100.0) + noise(rng);  // a daily lunch peak
  };
  const int kDay = 24 * 60;
  const absl::Time midnight = absl::FromUnixSeconds(1699920000);  // 2023-11-14 00:00 UTC
  auto at = [&](int minute) { return midnight + absl::Minutes(minute); };
  int seasonal_alerts = 0, ewma_alerts = 0;
  for (int m = 0; m < 7 * kDay; ++m) {
    double x = value(m);
    bool s = seasonal->Update(at(m), x).alert;
    bool e = ewma->Update(at(m), x).alert;
    if (m >= 2 * kDay) {
      seasonal_alerts += s;
      ewma_alerts += e;
    }
  }
  CHECK(seasonal_alerts == 0);
  CHECK(ewma_alerts > 0);  // without a profile, the daily peak looks anomalous
  // Day 8, 12:30: the peak is missing.
  int m = 7 * kDay + 12 * 60 + 30;
  CHECK(seasonal->Update(at(m), 100).alert);
}

TEST_CASE("suite parameters are validated by name") {
  for (const char* name : kSuite) {
    INFO(name);
    auto f = MakeDetectorFactory(name, {{"bogus", "1"}});
    REQUIRE_FALSE(f.ok());
    CHECK_THAT(
        std::string(f.status().message()),
        Catch::StartsWith(std::string("detector ") + name + ": unknown parameter \"bogus\""));
  }
  auto f = MakeDetectorFactory("ewma", {{"direction", "sideways"}});
  REQUIRE_FALSE(f.ok());
  CHECK_THAT(std::string(f.status().message()), Catch::Contains("\"direction\""));
  CHECK(MakeDetectorFactory("seasonal", {{"period", "7d"}, {"bins", "168"}}).ok() == false);
  CHECK(MakeDetectorFactory("seasonal", {{"period", "168h"}, {"bins", "168"}}).ok());
}

}  // namespace
}  // namespace pgwarden
