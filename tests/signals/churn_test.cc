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

TEST_CASE("ChurnBaseline: a queue trimmed in the first samples is held then judged warm",
          "[churn]") {
  ChurnBaseline c;
  absl::Time t = absl::FromUnixSeconds(1700000000);
  c.Observe(t, 0, 0, 320);  // the first sample: no counts yet
  t += absl::Seconds(1);
  // Trimmed at the second sample while inserting 100/s: held, not paged.
  REQUIRE(c.Observe(t, 100, 260, 160));
  CHECK(c.Reason().rfind("churn warmup", 0) == 0);
  for (int i = 0; i < kChurnMinSamples; ++i) {
    t += absl::Seconds(1);
    c.Observe(t, 100, 100, 160);
  }
  // Warm: the next trim is judged against the churn (inserts 100/s).
  t += absl::Seconds(1);
  CHECK(c.Observe(t, 100, 250, 10));
  CHECK(c.Reason().rfind("normal churn", 0) == 0);
}

TEST_CASE("ChurnBaseline: a loss held during warm-up is not learned as usual and pages",
          "[churn]") {
  ChurnBaseline c;
  absl::Time t = absl::FromUnixSeconds(1700000000);
  // A queue of 6,000 jobs written 100 a second, emptied at the second
  // sample: held during warm-up...
  c.Observe(t, 0, 0, 6000);
  t += absl::Seconds(1);
  REQUIRE(c.Observe(t, 100, 6000, 100));
  for (int i = 0; i < kChurnMinSamples; ++i) {
    t += absl::Seconds(1);
    c.Observe(t, 100, 100, 100);  // ...the level stays down
  }
  t += absl::Seconds(1);
  CHECK_FALSE(c.Observe(t, 100, 100, 100));  // judged warm: a loss
  CHECK(c.Reason().empty());
}

TEST_CASE("ChurnBaseline: a warm-up interval that counted no inserts still holds a queue's trim",
          "[churn]") {
  ChurnBaseline c;
  absl::Time t = absl::FromUnixSeconds(1700000000);
  c.Observe(t, 0, 0, 360);
  t += absl::Seconds(1);
  REQUIRE(c.Observe(t, 100, 290, 170));  // trimmed while inserting 100/s: held
  t += absl::Seconds(1);
  // The statistics of the next second arrive late: nothing counted, the
  // level still below its high. The table is still a queue being warmed up.
  REQUIRE(c.Observe(t, 0, 0, 170));
  CHECK(c.Reason().rfind("churn warmup (inserting 100 rows/s", 0) == 0);
}

TEST_CASE("ChurnBaseline: a table not inserting is never held during warm-up", "[churn]") {
  ChurnBaseline c;
  absl::Time t = absl::FromUnixSeconds(1700000000);
  c.Observe(t, 0, 0, 300);
  t += absl::Seconds(1);
  CHECK_FALSE(c.Observe(t, 0, 200, 100));
}

}  // namespace
}  // namespace pgwarden
