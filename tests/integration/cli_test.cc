// The command line contract of PRODUCT.md, against the real binary.

#include <fstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "devtools/process.h"
#include "tests/integration/run_pgwarden.h"
#include "tests/integration/scenario.h"

namespace pgwarden::testing {
namespace {

std::string TempFile(const std::string& name, const std::string& content) {
  std::string path = absl::StrCat("/tmp/pgwarden-cli-", ::getpid(), "-", name);
  std::ofstream(path) << content;
  return path;
}

TEST_CASE("CLI: --version and --help exit 0 - bad usage exits 2", "[integration][cli]") {
  CommandResult v = Run({"--version"});
  CHECK(v.code == 0);
  CHECK(v.output.find("pgwarden ") == 0);
  CommandResult h = Run({"--help"});
  CHECK(h.code == 0);
  CHECK(absl::StrContains(h.output, "pgwarden replay --detector NAME"));
  CHECK(Run({}).code == 2);
  CommandResult unknown = Run({"frobnicate"});
  CHECK(unknown.code == 2);
  CHECK(absl::StrContains(unknown.output, "unknown command \"frobnicate\""));
  CommandResult flag = Run({"run", "--confg", "x.yaml"});
  CHECK(flag.code == 2);
  CHECK(absl::StrContains(flag.output, "unknown flag --confg"));
  CHECK(Run({"run"}).code == 2);
}

TEST_CASE("CLI: a bad config exits 2 naming file, line and key", "[integration][cli]") {
  const std::string path =
      TempFile("bad.yaml",
               "environment: production\ninterval: 1x\ntargets:\n  - name: shop\n"
               "    dsn: \"dbname=shop\"\n    tables:\n      includ: [\"public.*\"]\n");
  for (const char* cmd : {"run", "check"}) {
    CommandResult r = Run({cmd, "--config", path});
    CHECK(r.code == 2);
    CHECK(r.output.find(path + ":2:") != std::string::npos);
    CHECK(absl::StrContains(r.output, "interval: expected a duration"));
    CHECK(r.output.find(path + ":7:") != std::string::npos);
    CHECK(absl::StrContains(r.output, "targets[0].tables.includ: unknown key"));
  }
  CommandResult missing = Run({"check", "--config", "/nonexistent/pgwarden.yaml"});
  CHECK(missing.code == 2);
  CHECK(absl::StrContains(missing.output, "/nonexistent/pgwarden.yaml"));
}

TEST_CASE("CLI: check connects and reports - an unreachable target exits 1", "[integration][cli]") {
  Scenario sc(100);
  const std::string good = TempFile("good.yaml", sc.Yaml("dry-run"));
  CommandResult ok = Run({"check", "--config", good});
  INFO(ok.output);
  CHECK(absl::StrContains(ok.output, "target shop: connected to database shop"));
  CHECK(ok.code == 0);
  REQUIRE(sc.pg->Stop().ok());
  CommandResult down = Run({"check", "--config", good});
  CHECK(down.code == 1);
  CHECK(absl::StrContains(down.output, "target shop: FAILED"));
}

TEST_CASE("CLI: replay writes the input columns plus anomaly_score and alert",
          "[integration][cli]") {
  std::string csv = "timestamp,value\n";
  for (int i = 0; i < 200; ++i) {
    absl::StrAppend(&csv, 1700000000 + i, ",", i < 150 ? 100000 + (i % 7) : 50000, "\n");
  }
  const std::string in = TempFile("series.csv", csv);
  const std::string out = in + ".out";
  CommandResult r = Run({"replay", "--detector", "level_drop", "--set", "min_rows=100", "--input",
                         in, "--output", out});
  INFO(r.output);
  REQUIRE(r.code == 0);
  std::ifstream f(out);
  std::string header;
  std::getline(f, header);
  CHECK(header == "timestamp,value,anomaly_score,alert");
  int rows = 0;
  int alerts_before = 0;
  int alerts_at_drop = 0;
  std::string line;
  while (std::getline(f, line)) {
    const bool alert = line.back() == '1';
    if (rows < 150) alerts_before += alert;
    if (rows == 150) alerts_at_drop += alert;
    ++rows;
  }
  CHECK(rows == 200);
  CHECK(alerts_before == 0);
  CHECK(alerts_at_drop == 1);
  CommandResult bad =
      Run({"replay", "--detector", "level_drop", "--set", "nonsense=1", "--input", in});
  CHECK(bad.code == 2);
  CHECK(absl::StrContains(bad.output, "nonsense"));
}

}  // namespace
}  // namespace pgwarden::testing
