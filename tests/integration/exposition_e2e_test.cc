// /metrics as scrapers see it: gzip when asked, and metrics.per_table
// bounding the per-table series while detection covers every table.
#include <httplib.h>
#include <zlib.h>

#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "catch2/catch.hpp"
#include "devtools/local_postgres.h"
#include "tests/integration/scenario.h"
#include "tests/support/agent_process.h"
#include "tests/support/pd_receiver.h"

namespace pgwarden::testing {
namespace {

std::string Gunzip(const std::string& in) {
  z_stream z{};
  REQUIRE(inflateInit2(&z, 15 + 16) == Z_OK);
  std::string out;
  char buf[1 << 16];
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  int rc = Z_OK;
  while (rc == Z_OK) {
    z.next_out = reinterpret_cast<Bytef*>(buf);
    z.avail_out = sizeof(buf);
    rc = inflate(&z, Z_NO_FLUSH);
    out.append(buf, sizeof(buf) - z.avail_out);
  }
  inflateEnd(&z);
  REQUIRE(rc == Z_STREAM_END);
  return out;
}

// Tables lists the `table` label values of pgwarden_table_rows samples.
std::set<std::string> ExportedTables(const std::string& metrics) {
  std::set<std::string> out;
  for (absl::string_view line : absl::StrSplit(metrics, '\n')) {
    if (!absl::StartsWith(line, "pgwarden_table_rows{")) continue;
    const size_t at = line.find("table=\"");
    if (at == absl::string_view::npos) continue;
    const size_t end = line.find('"', at + 7);
    out.insert(std::string(line.substr(at + 7, end - at - 7)));
  }
  return out;
}

std::string ManyTablesYaml(const LocalPostgres& pg, const PdReceiver& pager,
                           const std::string& per_table) {
  return absl::StrCat("environment: production\ninterval: 1s\nstate_dir: ", pg.dir(), "/state\n",
                      "metrics:\n  per_table: \"", per_table, "\"\n",
                      "targets:\n  - name: many\n    dsn: \"", pg.Dsn("many", "pgwarden"), "\"\n",
                      "alerting:\n  sinks:\n    - name: oncall\n      type: pagerduty\n      url: ",
                      pager.url(), "\n      routing_key: \"R0UTINGKEY0000000000000000000000\"\n");
}

// MakeTables creates t1..t100, table ti with 10 * i rows.
void MakeTables(const LocalPostgres& pg) {
  REQUIRE(
      pg.Psql("CREATE ROLE pgwarden LOGIN; GRANT pg_monitor, pg_signal_backend TO pgwarden").ok());
  REQUIRE(pg.Psql("CREATE DATABASE many").ok());
  REQUIRE(pg.Psql("DO $$ BEGIN FOR i IN 1..100 LOOP EXECUTE format('CREATE TABLE t%s AS SELECT "
                  "g AS id FROM generate_series(1, %s) g', i, 10 * i); END LOOP; END $$",
                  "many")
              .ok());
  REQUIRE(pg.Psql("ANALYZE", "many").ok());
}

}  // namespace

TEST_CASE("Metrics: /metrics with Accept-Encoding gzip decompresses to the same text",
          "[integration][metrics]") {
  auto pg = LocalPostgres::Start();
  REQUIRE(pg.ok());
  MakeTables(**pg);
  PdReceiver pager;
  auto agent = AgentProcess::Start((*pg)->dir(), ManyTablesYaml(**pg, pager, "all"));
  REQUIRE(agent.ok());
  AgentProcess& a = **agent;
  INFO(a.Log());
  REQUIRE(WaitUntil([&] { return ExportedTables(a.Metrics()).size() == 100; }, absl::Seconds(20)));
  httplib::Client cli("127.0.0.1", a.port());
  cli.set_read_timeout(5, 0);
  cli.set_decompress(false);  // the bytes as sent
  // The document is cached for a tick: two requests in the same tick get
  // the same text (a tick between them changes the figures: retried).
  bool same = false;
  for (int attempt = 0; attempt < 10 && !same; ++attempt) {
    auto gz = cli.Get("/metrics", {{"Accept-Encoding", "gzip"}});
    auto plain = cli.Get("/metrics", {{"Accept-Encoding", "identity"}});
    REQUIRE(gz);
    REQUIRE(plain);
    REQUIRE(gz->get_header_value("Content-Encoding") == "gzip");
    CHECK(plain->get_header_value("Content-Encoding").empty());
    CHECK(gz->body.size() * 3 < plain->body.size());
    same = Gunzip(gz->body) == plain->body;
  }
  CHECK(same);
  // Never older than a tick: a change shows at the next sample.
  REQUIRE((*pg)->Psql("INSERT INTO t1 SELECT generate_series(1, 90); ANALYZE t1", "many").ok());
  CHECK(WaitUntil(
      [&] { return MetricValue(a.Metrics(), "pgwarden_table_rows", {"table=\"t1\""}) == 100.0; },
      absl::Seconds(4)));
}

TEST_CASE(
    "Metrics: per_table top:10 on 100 tables exports the 10 largest - a TRUNCATE outside them "
    "still pages and gets its series",
    "[integration][metrics]") {
  auto pg = LocalPostgres::Start();
  REQUIRE(pg.ok());
  MakeTables(**pg);
  PdReceiver pager;
  auto agent = AgentProcess::Start((*pg)->dir(), ManyTablesYaml(**pg, pager, "top:10"));
  REQUIRE(agent.ok());
  AgentProcess& a = **agent;
  INFO(a.Log());
  REQUIRE(
      WaitUntil([&] { return MetricValue(a.Metrics(), "pgwarden_up") == 1.0; }, absl::Seconds(20)));
  absl::SleepFor(absl::Seconds(3));
  std::set<std::string> expected;
  for (int i = 91; i <= 100; ++i) expected.insert(absl::StrCat("t", i));
  CHECK(ExportedTables(a.Metrics()) == expected);
  // Detection still covers t5 (50 rows, far outside the top 10).
  const absl::Time t0 = absl::Now();
  REQUIRE((*pg)->Psql("TRUNCATE t5", "many").ok());
  auto paged = pager.WaitFor(IsTriggerFor("public.t5"), absl::Seconds(10));
  REQUIRE(paged.has_value());
  CHECK(paged->at - t0 <= absl::Seconds(3));
  CHECK(WaitUntil([&] { return ExportedTables(a.Metrics()).count("t5") == 1; }, absl::Seconds(5)));
  CHECK(pager.violations().empty());
}

}  // namespace pgwarden::testing
