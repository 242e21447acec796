#include "signals/churn.h"

#include "catch2/catch.hpp"

namespace pgwarden {
namespace {

TEST_CASE("ChurnBaseline: a steady queue is normal churn over an hour", "[churn]") {
  ChurnBaseline c;
  absl::Time t = absl::FromUnixSeconds(1700000000);
  double level = 100;
  int abnormal = 0;
  for (int i = 0; i < 3600; ++i) {
    t += absl::Seconds(1);
    const int ins = 20 + i % 7;
    // The consumer lags, then catches up: level swings 0..~250.
    const int del = (i / 10) % 2 == 0 ? 5 : std::min<int>(static_cast<int>(level) + ins, 45);
    level = std::max(0.0, level + ins - del);
    const bool normal = c.Observe(t, ins, del, level);
    if (i > 10 && !normal && del > 5) ++abnormal;
  }
  REQUIRE(abnormal == 0);
}

TEST_CASE("ChurnBaseline: the queue emptied at 20x its delete rate is not normal", "[churn]") {
  ChurnBaseline c;
  absl::Time t = absl::FromUnixSeconds(1700000000);
  for (int i = 0; i < 600; ++i) {
    t += absl::Seconds(1);
    c.Observe(t, 20, 20, 200 + (i % 5) * 10);
  }
  t += absl::Seconds(1);
  REQUIRE_FALSE(c.Observe(t, 20, 420, 0));
  REQUIRE(c.Reason().empty());
}

TEST_CASE("ChurnBaseline: a big slowly written table never counts as churn", "[churn]") {
  ChurnBaseline c;
  absl::Time t = absl::FromUnixSeconds(1700000000);
  for (int i = 0; i < 600; ++i) {
    t += absl::Seconds(1);
    c.Observe(t, 10, 10, 200000);
  }
  t += absl::Seconds(1);
  REQUIRE_FALSE(c.Observe(t, 10, 10, 199990));
}

}  // namespace
}  // namespace pgwarden
