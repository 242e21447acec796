#include "agent/target_loop.h"
#include "catch2/catch.hpp"

namespace pgwarden {
namespace {

TEST_CASE("suppressed reasons become bounded label values", "[agent]") {
  CHECK(SuppressedReasonLabel("maintenance window nightly-etl") == "maintenance");
  CHECK(SuppressedReasonLabel(
            "normal churn (drop 40 rows, usual swing 90; deletes 40/s, usual peak 55/s)") ==
        "normal_churn");
  CHECK(SuppressedReasonLabel("allowed_role") == "allowed_role");
  CHECK(SuppressedReasonLabel("unconfirmed") == "unconfirmed");
}

}  // namespace
}  // namespace pgwarden
