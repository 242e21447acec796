#include "agent/row_history.h"

#include "catch2/catch.hpp"

namespace pgwarden {
namespace {

const absl::Time kT0 = absl::FromUnixSeconds(1700000000);

TEST_CASE("RowHistory keeps only the wanted tables, starting at their rows before",
          "[row_history]") {
  RowHistory h;
  h.Record("public.orders", kT0, 10);
  CHECK(h.empty());
  h.Want({{"public.customers", 1000, kT0 - absl::Seconds(1)}});
  h.Record("public.customers", kT0, 400);
  h.Record("public.orders", kT0, 10);
  const nlohmann::json j = h.Json();
  REQUIRE(j.size() == 1);
  REQUIRE(j["public.customers"].size() == 2);
  CHECK(j["public.customers"][0][1] == 1000);
  CHECK(j["public.customers"][0][0] == absl::ToUnixMillis(kT0 - absl::Seconds(1)));
  CHECK(j["public.customers"][1][1] == 400);
  // No longer wanted: forgotten.
  h.Want({});
  CHECK(h.empty());
}

TEST_CASE("RowHistory is bounded in points, in time and in tables", "[row_history]") {
  RowHistory h;
  std::vector<HistoryWanted> wanted;
  for (size_t i = 0; i < RowHistory::kMaxTables + 10; ++i) {
    wanted.push_back({"public.t" + std::to_string(i), 5, kT0});
  }
  h.Want(wanted);
  CHECK(h.Json().size() == RowHistory::kMaxTables);
  // An hour of samples every 100 ms: at most kMaxPoints per table, none
  // older than the window.
  absl::Time t = kT0;
  for (int i = 0; i < 36000; ++i) {
    t += absl::Milliseconds(100);
    h.Record("public.t0", t, i);
  }
  const nlohmann::json series = h.Json()["public.t0"];
  CHECK(series.size() <= RowHistory::kMaxPoints);
  CHECK(series.size() >= RowHistory::kMaxPoints - 2);
  CHECK(absl::FromUnixMillis(series.front()[0].get<int64_t>()) >= t - RowHistory::kWindow);
  CHECK(series.back()[1] == 35999);
  CHECK(h.points() <= RowHistory::kMaxTables * RowHistory::kMaxPoints);
}

}  // namespace
}  // namespace pgwarden
