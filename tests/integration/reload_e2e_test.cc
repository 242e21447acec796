// `pgwarden run` re-reading its config on SIGHUP: a sink added, a table
// excluded and a maintenance window added each apply without a restart and
// without losing the open incident; a broken file is refused whole.
#include <httplib.h>
#include <signal.h>

#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "catch2/catch.hpp"
#include "devtools/local_postgres.h"
#include "tests/integration/scenario.h"
#include "tests/support/agent_process.h"
#include "tests/support/pd_receiver.h"

namespace pgwarden::testing {
namespace {

constexpr char kLifecycle[] = "web:\n  enable_lifecycle: true\n";
constexpr char kTables[] = "paged_t excluded_t window_t later_t";

std::unique_ptr<LocalPostgres> StartServer() {
  auto pg = LocalPostgres::Start();
  REQUIRE(pg.ok());
  REQUIRE((*pg)->Psql("CREATE ROLE pgwarden LOGIN; GRANT pg_monitor TO pgwarden").ok());
  for (absl::string_view t : absl::StrSplit(kTables, ' ')) {
    REQUIRE((*pg)
                ->Psql(absl::StrCat("CREATE TABLE ", t,
                                    " AS SELECT g AS id FROM generate_series(1, 2000) g"))
                .ok());
  }
  REQUIRE((*pg)->Psql("ANALYZE").ok());
  return std::move(*pg);
}

std::string Sink(const std::string& name, const PdReceiver& r) {
  return absl::StrCat("    - name: ", name, "\n      type: pagerduty\n      url: ", r.url(),
                      "\n      routing_key: \"R0UTINGKEY0000000000000000000000\"\n");
}

// Yaml is the config without `listen:` (AgentProcess adds it at start;
// Rewrite keeps it).
std::string Yaml(const LocalPostgres& pg, const std::string& tables, const std::string& sinks,
                 const std::string& extra = "") {
  return absl::StrCat("environment: production\ninterval: 1s\nstate_dir: ", pg.dir(),
                      "/state\nincidents:\n  resolve_after: 10m\n", "targets:\n  - name: shop\n",
                      "    dsn: \"", pg.Dsn("postgres", "pgwarden"), "\"\n", "    tables:\n",
                      tables, "alerting:\n  sinks:\n", sinks, extra);
}

// Rewrite replaces the agent's config file, keeping its listen line.
void Rewrite(const LocalPostgres& pg, const std::string& yaml) {
  const std::string path = absl::StrCat(pg.dir(), "/pgwarden.yaml");
  std::ifstream in(path);
  std::string listen;
  REQUIRE(std::getline(in, listen));
  REQUIRE(absl::StartsWith(listen, "listen:"));
  in.close();
  std::ofstream out(path + ".new");
  out << listen << "\n" << yaml;
  out.close();
  REQUIRE(std::rename((path + ".new").c_str(), path.c_str()) == 0);
}

double ReloadOk(const AgentProcess& a) {
  return MetricValue(a.Metrics(), "pgwarden_config_last_reload_successful").value_or(-1);
}

// Reload sends SIGHUP and waits for the reload's log line.
bool Reload(const AgentProcess& a, const std::string& expect_in_log) {
  const size_t before = a.Log().size();
  ::kill(a.pid(), SIGHUP);
  return WaitUntil([&] { return a.Log().substr(before).find(expect_in_log) != std::string::npos; },
                   absl::Seconds(10));
}

nlohmann::json Status(const AgentProcess& a) {
  httplib::Client c("127.0.0.1", a.port());
  c.set_read_timeout(5, 0);
  auto res = c.Get("/status");
  if (!res || res->status != 200) return nlohmann::json::object();
  return nlohmann::json::parse(res->body, nullptr, false);
}

bool AnyEventNames(const PdReceiver& r, const std::string& what, absl::Time since) {
  for (const ReceivedEvent& ev : r.events()) {
    if (ev.at >= since && absl::StrContains(ev.body.dump(), what)) return true;
  }
  return false;
}

std::string WindowCoveringNow() {
  // A window that started a minute ago and lasts 3 hours (in UTC).
  const absl::Time start = absl::Now() - absl::Minutes(1);
  return absl::StrCat("maintenance:\n  windows:\n    - name: reload_window\n      start: \"",
                      absl::FormatTime("%H:%M", start, absl::UTCTimeZone()),
                      "\"\n      duration: 3h\n      tables: [\"public.window_t\"]\n");
}

}  // namespace

TEST_CASE(
    "Reload: a sink added - a table excluded - a maintenance window added - each applies on "
    "SIGHUP without a restart or losing the open incident",
    "[integration][reload]") {
  auto pg = StartServer();
  PdReceiver first;
  PdReceiver second;
  const std::string all = "      include: [\"public.*\"]\n";
  auto agent = AgentProcess::Start(pg->dir(), Yaml(*pg, all, Sink("first", first)));
  REQUIRE(agent.ok());
  AgentProcess& a = **agent;
  INFO(a.Log());
  REQUIRE(
      WaitUntil([&] { return MetricValue(a.Metrics(), "pgwarden_up") == 1.0; }, absl::Seconds(20)));
  CHECK(ReloadOk(a) == 1.0);
  absl::SleepFor(absl::Seconds(3));  // baselines
  REQUIRE(pg->Psql("TRUNCATE paged_t").ok());
  auto paged = first.WaitFor(IsTriggerFor("paged_t"), absl::Seconds(10));
  REQUIRE(paged.has_value());
  const std::string key = paged->body.value("dedup_key", "");
  const pid_t pid = a.pid();

  Rewrite(*pg, Yaml(*pg, all + "      exclude: [\"public.excluded_t\"]\n",
                    Sink("first", first) + Sink("second", second), WindowCoveringNow()));
  const absl::Time reloaded = absl::Now();
  REQUIRE(Reload(a, "config reloaded"));
  CHECK(a.pid() == pid);
  CHECK(::kill(pid, 0) == 0);  // the same process, still running
  CHECK(ReloadOk(a) == 1.0);
  // The open incident is still open, under the same key.
  nlohmann::json status;
  CHECK(WaitUntil(
      [&] {
        status = Status(a);  // retried: a busy machine may miss the read timeout
        bool open = false;
        for (const auto& inc : status["incidents"]["open"]) {
          open |= inc.value("dedup_key", "") == key;
        }
        return open;
      },
      absl::Seconds(6)));
  // The excluded table leaves the metrics (no page: it was not dropped).
  CHECK(WaitUntil(
      [&] { return !MetricValue(a.Metrics(), "pgwarden_table_rows", {"table=\"excluded_t\""}); },
      absl::Seconds(5)));
  CHECK(MetricValue(a.Metrics(), "pgwarden_table_rows", {"table=\"later_t\""}) == 2000.0);

  REQUIRE(pg->Psql("DELETE FROM window_t").ok());
  REQUIRE(pg->Psql("TRUNCATE excluded_t").ok());
  CHECK(WaitUntil(
      [&] {
        return MetricSum(a.Metrics(), "pgwarden_signals_suppressed_total",
                         {"reason=\"maintenance\""}) > 0;
      },
      absl::Seconds(6)));
  absl::SleepFor(absl::Seconds(3));
  REQUIRE(pg->Psql("TRUNCATE later_t").ok());
  // The added sink gets the next page, as does the first.
  auto second_paged = second.WaitFor(IsTriggerFor("later_t"), absl::Seconds(10));
  REQUIRE(second_paged.has_value());
  std::cout << "[figure] after the reload, a TRUNCATE paged the added sink after "
            << absl::ToDoubleSeconds(second_paged->at - reloaded) << " s from the SIGHUP\n";
  CHECK(first.WaitFor(IsTriggerFor("later_t"), absl::Seconds(5)).has_value());
  for (const PdReceiver* r : {&first, &second}) {
    CHECK_FALSE(AnyEventNames(*r, "window_t", reloaded));
    CHECK_FALSE(AnyEventNames(*r, "excluded_t", reloaded));
    CHECK(r->violations().empty());
  }
}

TEST_CASE(
    "Reload: a broken config is refused whole with its file and line - the running one keeps "
    "paging - and the metric is 0 until a good one loads - by SIGHUP or POST /-/reload",
    "[integration][reload]") {
  auto pg = StartServer();
  PdReceiver first;
  PdReceiver second;
  const std::string all = "      include: [\"public.*\"]\n";
  auto agent = AgentProcess::Start(pg->dir(), Yaml(*pg, all, Sink("first", first), kLifecycle));
  REQUIRE(agent.ok());
  AgentProcess& a = **agent;
  INFO(a.Log());
  REQUIRE(
      WaitUntil([&] { return MetricValue(a.Metrics(), "pgwarden_up") == 1.0; }, absl::Seconds(20)));
  absl::SleepFor(absl::Seconds(3));
  // A valid sink added next to a key that does not exist: nothing applies.
  Rewrite(*pg, Yaml(*pg, all, Sink("first", first) + Sink("second", second),
                    absl::StrCat(kLifecycle, "bogus_key: 1\n")));
  REQUIRE(Reload(a, "config reload refused"));
  CHECK(ReloadOk(a) == 0.0);
  CHECK(absl::StrContains(a.Log(), "pgwarden.yaml:"));
  CHECK(absl::StrContains(a.Log(), "bogus_key"));
  REQUIRE(pg->Psql("TRUNCATE paged_t").ok());
  CHECK(first.WaitFor(IsTriggerFor("paged_t"), absl::Seconds(10)).has_value());
  absl::SleepFor(absl::Seconds(2));
  CHECK(second.events().empty());
  // POST /-/reload (web.enable_lifecycle) answers with the same refusal.
  httplib::Client c("127.0.0.1", a.port());
  c.set_read_timeout(10, 0);
  auto refused = c.Post("/-/reload");
  REQUIRE(refused);
  CHECK(refused->status == 500);
  CHECK(absl::StrContains(refused->body, "bogus_key"));
  // Fixed: it loads, and the metric says so.
  Rewrite(*pg, Yaml(*pg, all, Sink("first", first) + Sink("second", second), kLifecycle));
  auto loaded = c.Post("/-/reload");
  REQUIRE(loaded);
  CHECK(loaded->status == 200);
  CHECK(ReloadOk(a) == 1.0);
}

}  // namespace pgwarden::testing
