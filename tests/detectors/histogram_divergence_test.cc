#include "detectors/histogram_divergence.h"

#include <algorithm>
#include <cmath>
#include <random>

#include "catch2/catch.hpp"

namespace pgwarden {
namespace {

TEST_CASE("histogram divergence: quiet on a stationary distribution") {
  HistogramDivergence h(6, 96, 2000);
  std::mt19937_64 rng(1);
  std::discrete_distribution<int> levels({1, 4, 8, 8, 4, 1});
  double top = 0;
  for (int i = 0; i < 20000; ++i) {
    double z = h.Update(levels(rng));
    if (i > 1000) top = std::max(top, z);
  }
  // A standard-normal deviate: about 4 at most over 19000 samples.
  CHECK(top < 5.5);
  CHECK(top > 1.0);
}

TEST_CASE("histogram divergence: a new mix of the same levels stands out, then ages") {
  HistogramDivergence h(6, 96, 500);
  std::mt19937_64 rng(2);
  std::discrete_distribution<int> before({1, 4, 8, 8, 4, 1});
  std::discrete_distribution<int> after({8, 4, 1, 1, 4, 8});  // same range, other shape
  for (int i = 0; i < 5000; ++i) h.Update(before(rng));
  double first = 0;
  for (int i = 0; i < 96; ++i) first = std::max(first, h.Update(after(rng)));
  CHECK(first > 8.0);
  // Once the new shape has lasted several half-lives it is the past.
  double late = 0;
  for (int i = 0; i < 6000; ++i) {
    double z = h.Update(after(rng));
    if (i > 5000) late = std::max(late, z);
  }
  CHECK(late < 5.5);
  // Clear forgets everything: no score until the window and past refill.
  h.Clear();
  CHECK(h.Update(0) == 0.0);
}

TEST_CASE("histogram divergence: levels are clamped, not out of bounds") {
  HistogramDivergence h(4, 8, 10);
  CHECK(h.levels() == 4);
  for (int i = 0; i < 100; ++i) h.Update(i % 2 == 0 ? -5 : 99);
  double z = h.Update(2);
  CHECK(std::isfinite(z));
}

}  // namespace
}  // namespace pgwarden
