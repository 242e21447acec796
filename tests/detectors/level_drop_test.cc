#include "detectors/level_drop.h"

#include <random>

#include "catch2/catch.hpp"
#include "tests/detectors/test_util.h"

namespace pgwarden {
namespace {

TEST_CASE("level_drop fires within one sample when a big table loses 1000 rows") {
  auto d = MakeDetector("level_drop");
  for (int i = 0; i < 30; ++i) {
    DetectorResult r = d->Update(TimeAt(i), 200000 + i);
    REQUIRE_FALSE(r.alert);
    REQUIRE(r.score < 0.01);
  }
  DetectorResult r = d->Update(TimeAt(30), 200029 - 1000);
  CHECK(r.alert);
  CHECK(r.score >= 0.5);
  CHECK(r.baseline == Approx(200029));
  // A bigger loss scores higher.
  DetectorResult r2 = d->Update(TimeAt(31), 200029 - 5000);
  CHECK(r2.alert);
  CHECK(r2.score > r.score);
}

TEST_CASE("level_drop fires when a 40-row table is emptied") {
  auto d = MakeDetector("level_drop");
  for (int i = 0; i < 10; ++i) REQUIRE_FALSE(d->Update(TimeAt(i), 40).alert);
  CHECK(d->Update(TimeAt(10), 0).alert);
}

TEST_CASE("level_drop ignores small deletes on a small table") {
  auto d = MakeDetector("level_drop");
  for (int i = 0; i < 10; ++i) d->Update(TimeAt(i), 40);
  CHECK_FALSE(d->Update(TimeAt(10), 25).alert);  // 15 rows: below min_rows_small
}

TEST_CASE("level_drop stays quiet under normal churn and a wandering level") {
  auto d = MakeDetector("level_drop");
  std::mt19937_64 rng(42);
  std::normal_distribution<double> noise(0.0, 15.0);
  std::uniform_int_distribution<int> deletes(0, 60);
  double level = 200000;
  int alerts = 0;
  double max_score = 0;
  for (int i = 0; i < 100000; ++i) {
    level += 30 + noise(rng) - deletes(rng);  // inserts, deletes of a few dozen rows
    DetectorResult r = d->Update(TimeAt(i), level);
    alerts += r.alert;
    max_score = std::max(max_score, r.score);
  }
  CHECK(alerts == 0);
  CHECK(max_score < 0.5);
}

TEST_CASE("level_drop: N(0, sigma) noise over 1e5 samples gives no alert") {
  auto d = MakeDetector("level_drop");
  std::mt19937_64 rng(7);
  std::normal_distribution<double> noise(0.0, 50.0);
  int alerts = 0;
  for (int i = 0; i < 100000; ++i) alerts += d->Update(TimeAt(i), 100000 + noise(rng)).alert;
  CHECK(alerts == 0);
}

TEST_CASE("level_drop: growth raises the baseline at once") {
  auto d = MakeDetector("level_drop");
  for (int i = 0; i < 10; ++i) d->Update(TimeAt(i), 100000);
  d->Update(TimeAt(10), 150000);  // bulk load
  DetectorResult r = d->Update(TimeAt(11), 148000);
  CHECK(r.baseline == Approx(150000));
  CHECK(r.alert);
}

TEST_CASE("level_drop: the baseline forgets levels older than the window") {
  auto d = MakeDetector("level_drop", {{"window", "10s"}, {"buckets", "5"}});
  d->Update(TimeAt(0), 100000);
  for (int i = 1; i < 30; ++i) d->Update(TimeAt(i), 90000);
  DetectorResult r = d->Update(TimeAt(30), 90000);
  CHECK(r.baseline == Approx(90000));
  CHECK_FALSE(r.alert);
}

TEST_CASE("level_drop never alerts during warm-up") {
  auto d = MakeDetector("level_drop", {{"warmup", "5"}});
  d->Update(TimeAt(0), 100000);
  DetectorResult r = d->Update(TimeAt(1), 50000);
  CHECK_FALSE(r.alert);
  CHECK(r.score > 0.5);  // the score still says it
  for (int i = 2; i < 5; ++i) CHECK_FALSE(d->Update(TimeAt(i), 50000 - i * 2000).alert);
  CHECK(d->Update(TimeAt(5), 30000).alert);
  // The very first sample has no baseline at all.
  auto fresh = MakeDetector("level_drop");
  DetectorResult first = fresh->Update(TimeAt(0), 5);
  CHECK_FALSE(first.alert);
  CHECK(std::isnan(first.baseline));
}

TEST_CASE("level_drop Reset forgets the baseline") {
  auto d = MakeDetector("level_drop");
  for (int i = 0; i < 10; ++i) d->Update(TimeAt(i), 100000);
  d->Reset();
  DetectorResult r = d->Update(TimeAt(10), 0);  // e.g. after a TRUNCATE handled by the caller
  CHECK_FALSE(r.alert);
  CHECK_FALSE(d->Update(TimeAt(11), 0).alert);
  CHECK(d->Update(TimeAt(12), 100000).score == 0.0);
}

TEST_CASE("level_drop state is small and fixed") {
  auto d = MakeDetector("level_drop");
  size_t before = d->StateBytes();
  for (int i = 0; i < 10000; ++i) d->Update(TimeAt(i), i);
  CHECK(d->StateBytes() == before);
  CHECK(before < 2048);
}

}  // namespace
}  // namespace pgwarden
