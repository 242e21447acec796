#include <algorithm>
#include <string>

#include "catch2/catch.hpp"
#include "detectors/detector.h"
#include "tests/detectors/test_util.h"

namespace pgwarden {
namespace {

TEST_CASE("DetectorNames lists the public detector names") {
  std::vector<std::string> names = DetectorNames();
  for (const char* want : {"level_drop", "rate_spike", "ratio"}) {
    INFO(want);
    CHECK(std::count(names.begin(), names.end(), want) == 1);
  }
  for (const std::string& n : names) {
    INFO(n);
    auto f = MakeDetectorFactory(n, {});
    REQUIRE(f.ok());
    auto a = (*f)->Create();
    auto b = (*f)->Create();
    CHECK(a.get() != b.get());
    CHECK(a->StateBytes() > 0);
  }
}

TEST_CASE("unknown parameter is InvalidArgument naming key and detector") {
  auto f = MakeDetectorFactory("level_drop", {{"min_rowz", "5"}});
  REQUIRE_FALSE(f.ok());
  CHECK(f.status().code() == absl::StatusCode::kInvalidArgument);
  CHECK_THAT(std::string(f.status().message()),
             Catch::StartsWith("detector level_drop: unknown parameter \"min_rowz\""));
}

TEST_CASE("bad values are InvalidArgument naming key and detector") {
  struct Case {
    const char* detector;
    const char* key;
    const char* value;
  };
  for (const Case& c :
       {Case{"level_drop", "min_rows", "lots"}, Case{"level_drop", "window", "-5s"},
        Case{"level_drop", "min_fraction", "1.5"}, Case{"level_drop", "buckets", "2.5"},
        Case{"rate_spike", "z", "nan"}, Case{"rate_spike", "warmup", "-1"}, Case{"ratio", "p", "0"},
        Case{"ratio", "min_ratio", "2"}}) {
    auto f = MakeDetectorFactory(c.detector, {{c.key, c.value}});
    INFO(c.detector << " " << c.key << "=" << c.value);
    REQUIRE_FALSE(f.ok());
    CHECK(f.status().code() == absl::StatusCode::kInvalidArgument);
    std::string msg(f.status().message());
    CHECK_THAT(msg, Catch::Contains(std::string("detector ") + c.detector));
    CHECK_THAT(msg, Catch::Contains(std::string("\"") + c.key + "\""));
  }
}

TEST_CASE("valid parameters change behaviour") {
  auto strict = MakeDetector("level_drop", {{"min_rows", "10"}, {"min_fraction", "0"}});
  auto loose = MakeDetector("level_drop");
  for (int i = 0; i < 5; ++i) {
    strict->Update(TimeAt(i), 100000);
    loose->Update(TimeAt(i), 100000);
  }
  CHECK(strict->Update(TimeAt(5), 99980).alert);
  CHECK_FALSE(loose->Update(TimeAt(5), 99980).alert);
}

TEST_CASE("unknown detector name is InvalidArgument naming it") {
  auto f = MakeDetectorFactory("magic", {});
  REQUIRE_FALSE(f.ok());
  CHECK(f.status().code() == absl::StatusCode::kInvalidArgument);
  CHECK_THAT(std::string(f.status().message()), Catch::Contains("\"magic\""));
}

}  // namespace
}  // namespace pgwarden
