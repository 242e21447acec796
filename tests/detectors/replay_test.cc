#include "detectors/replay.h"

#include <stdlib.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "catch2/catch.hpp"

namespace pgwarden {
namespace {

// TempDir is a fresh directory removed at the end of the test.
class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/replay_test.XXXXXX";
    REQUIRE(mkdtemp(tmpl) != nullptr);
    path_ = tmpl;
  }
  ~TempDir() { std::system(("rm -rf '" + path_ + "'").c_str()); }
  std::string File(const std::string& name, const std::string& content) const {
    std::string p = path_ + "/" + name;
    std::ofstream(p, std::ios::binary) << content;
    return p;
  }
  std::string Path(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool Exists(const std::string& path) { return access(path.c_str(), F_OK) == 0; }

// RowCountCsv is a table of 200,000 rows that loses 5,000 at row `drop_at`.
std::string RowCountCsv(int n, int drop_at, const std::string& eol = "\n") {
  std::string csv = "timestamp,value" + eol;
  for (int i = 0; i < n; ++i) {
    int v = i < drop_at ? 200000 + i : 195000;
    absl::StrAppend(&csv, 1700000000 + i, ",", v, eol);
  }
  return csv;
}

TEST_CASE("Replay appends anomaly_score and alert, one row per input row, same order") {
  TempDir dir;
  std::string in = dir.File("in.csv", RowCountCsv(50, 40));
  std::string out = dir.Path("out.csv");
  ReplayOptions o;
  o.detector = "level_drop";
  o.input = in;
  o.output = out;
  absl::Status s = Replay(o);
  INFO(s.ToString());
  REQUIRE(s.ok());
  std::vector<std::string> lines = absl::StrSplit(Slurp(out), '\n', absl::SkipEmpty());
  REQUIRE(lines.size() == 51);
  CHECK(lines[0] == "timestamp,value,anomaly_score,alert");
  std::vector<std::string> in_lines = absl::StrSplit(Slurp(in), '\n', absl::SkipEmpty());
  for (size_t i = 1; i < lines.size(); ++i) {
    std::vector<std::string> f = absl::StrSplit(lines[i], ',');
    REQUIRE(f.size() == 4);
    CHECK(f[0] + "," + f[1] == in_lines[i]);  // input columns unchanged
    double score = std::stod(f[2]);
    CHECK(score >= 0.0);
    CHECK(score <= 1.0);
    const bool is_drop = i == 41;  // row 40 (0-based) is line 41
    INFO("line " << i);
    CHECK(f[3] == (is_drop || (i > 41) ? "1" : "0"));
    if (is_drop) CHECK(score >= 0.5);
    if (i < 41) CHECK(score < 0.5);
  }
}

TEST_CASE("Replay accepts ISO 8601 timestamps, CRLF and a weight column") {
  TempDir dir;
  std::string csv = "timestamp,failures,attempts\r\n";
  for (int i = 0; i < 40; ++i) {
    absl::StrAppend(&csv, "2014-04-01 00:", i < 10 ? "0" : "", i, ":00,", i == 35 ? 80 : 1,
                    ",100\r\n");
  }
  ReplayOptions o;
  o.detector = "ratio";
  o.input = dir.File("in.csv", csv);
  o.output = dir.Path("out.csv");
  absl::Status s = Replay(o);
  INFO(s.ToString());
  REQUIRE(s.ok());
  std::vector<std::string> lines = absl::StrSplit(Slurp(o.output), '\n', absl::SkipEmpty());
  REQUIRE(lines.size() == 41);
  CHECK(lines[0] == "timestamp,failures,attempts,anomaly_score,alert");
  CHECK(absl::EndsWith(lines[36], ",1"));
  CHECK(absl::StartsWith(lines[36], "2014-04-01 00:35:00,80,100,"));
  int alerts = 0;
  for (size_t i = 1; i < lines.size(); ++i) alerts += absl::EndsWith(lines[i], ",1");
  CHECK(alerts == 1);
}

TEST_CASE("ParseReplayTimestamp formats") {
  absl::Time want = absl::FromUnixSeconds(1396310400);  // 2014-04-01T00:00:00Z
  for (const char* s : {"2014-04-01 00:00:00", "2014-04-01T00:00:00Z", "2014-04-01T02:00:00+02:00",
                        "1396310400", "2014-04-01T00:00:00.000", "\"2014-04-01 00:00:00\""}) {
    INFO(s);
    auto t = ParseReplayTimestamp(s);
    REQUIRE(t.ok());
    CHECK(*t == want);
  }
  CHECK(*ParseReplayTimestamp("1396310400.5") == want + absl::Milliseconds(500));
  for (const char* s : {"", "yesterday", "2014-13-01 00:00:00", "2014-04-01 25:00:00"}) {
    INFO(s);
    CHECK_FALSE(ParseReplayTimestamp(s).ok());
  }
}

TEST_CASE("Replay names file, line and problem for a malformed row and writes nothing") {
  struct Case {
    std::string row;
    std::string want;
  };
  for (const Case& c : {Case{"1700000003,abc", "value \"abc\""}, Case{"nope,5", "bad timestamp"},
                        Case{"1700000003", "expected 2 columns, got 1"},
                        Case{"1700000003,1,2", "expected 2 columns, got 3"}}) {
    TempDir dir;
    std::string csv = "timestamp,value\n1700000000,1\n1700000001,2\n1700000002,3\n" + c.row + "\n";
    ReplayOptions o;
    o.detector = "ewma";
    o.input = dir.File("bad.csv", csv);
    o.output = dir.Path("out.csv");
    absl::Status s = Replay(o);
    INFO(c.row << " -> " << s.ToString());
    CHECK(s.code() == absl::StatusCode::kInvalidArgument);
    CHECK_THAT(std::string(s.message()), Catch::StartsWith(o.input + ":5: "));
    CHECK_THAT(std::string(s.message()), Catch::Contains(c.want));
    CHECK_FALSE(Exists(o.output));
  }
}

TEST_CASE("Replay keeps an existing output file intact on error") {
  TempDir dir;
  std::string out = dir.File("out.csv", "previous\n");
  ReplayOptions o;
  o.detector = "level_drop";
  o.input = dir.File("bad.csv", "timestamp,value\n1700000000,1\n1700000001,x\n");
  o.output = out;
  CHECK_FALSE(Replay(o).ok());
  CHECK(Slurp(out) == "previous\n");
}

TEST_CASE("Replay errors: missing input, unknown detector, bad parameter, ratio without weight") {
  TempDir dir;
  ReplayOptions o;
  o.input = dir.Path("missing.csv");
  o.output = dir.Path("out.csv");
  absl::Status s = Replay(o);
  CHECK_FALSE(s.ok());
  CHECK_THAT(std::string(s.message()), Catch::Contains("missing.csv"));

  o.input = dir.File("in.csv", RowCountCsv(5, 100));
  o.detector = "nosuch";
  CHECK(Replay(o).code() == absl::StatusCode::kInvalidArgument);
  o.detector = "level_drop";
  o.params = {{"min_rowz", "1"}};
  s = Replay(o);
  CHECK_THAT(std::string(s.message()), Catch::Contains("min_rowz"));
  o.params = {};
  o.detector = "ratio";
  s = Replay(o);
  CHECK(s.code() == absl::StatusCode::kInvalidArgument);
  CHECK_THAT(std::string(s.message()), Catch::Contains(":2: "));
  CHECK_FALSE(Exists(o.output));
  o.input = dir.File("empty.csv", "");
  o.detector = "level_drop";
  CHECK(Replay(o).code() == absl::StatusCode::kInvalidArgument);
}

TEST_CASE("Replay with the default detector and params matches the named detector's scores") {
  TempDir dir;
  std::string in = dir.File("in.csv", RowCountCsv(300, 250));
  ReplayOptions a;
  a.input = in;
  a.output = dir.Path("a.csv");
  REQUIRE(Replay(a).ok());
  ReplayOptions b = a;
  b.detector = kDefaultDetector;
  b.output = dir.Path("b.csv");
  REQUIRE(Replay(b).ok());
  CHECK(Slurp(a.output) == Slurp(b.output));
  // A different detector gives different scores on the same series.
  ReplayOptions c = a;
  c.detector = "level_drop";
  c.output = dir.Path("c.csv");
  REQUIRE(Replay(c).ok());
  CHECK(Slurp(a.output) != Slurp(c.output));
}

}  // namespace
}  // namespace pgwarden
