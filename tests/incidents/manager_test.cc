#include "incidents/manager.h"

#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <vector>

#include "absl/strings/match.h"
#include "catch2/catch.hpp"
#include "tests/incidents/recorder.h"

namespace pgwarden {
namespace {

SignalEvent Event(SignalKind kind, const std::string& table, absl::Time t,
                  Severity sev = Severity::kCritical) {
  SignalEvent e;
  e.kind = kind;
  e.schema = table.empty() ? "" : "public";
  e.table = table;
  e.severity = sev;
  e.time = t;
  e.description = std::string(SignalKindName(kind)) + " on " + table;
  e.figures = {{"n", 1}};
  return e;
}

TEST_CASE("IncidentManager groups a table's signals into one page with one key", "[incidents]") {
  Recorder rec;
  IncidentManagerOptions o;
  o.environment = "production";
  o.resolve_after = absl::Seconds(30);
  IncidentManager m(o, &rec);
  const absl::Time t0 = absl::FromUnixSeconds(1700000000);
  m.Observe("shop", {Event(SignalKind::kRowLoss, "customers", t0)});
  m.Observe("shop", {Event(SignalKind::kRowLoss, "customers", t0 + absl::Seconds(1))});
  REQUIRE(rec.alerts.size() == 1);
  CHECK(rec.alerts[0].action == AlertAction::kTrigger);
  CHECK(rec.alerts[0].dedup_key == "pgwarden/production/shop/public.customers");
  CHECK(absl::StrContains(rec.alerts[0].summary, "shop"));
  // A new kind on the same table joins the incident and re-sends the page.
  m.Observe("shop", {Event(SignalKind::kDeleteSpike, "customers", t0 + absl::Seconds(2),
                           Severity::kError)});
  // ... once the update interval (10 s) since the first page has passed.
  m.Tick(t0 + absl::Seconds(9));
  CHECK(rec.alerts.size() == 1);
  m.Tick(t0 + absl::Seconds(10));
  REQUIRE(rec.alerts.size() == 2);
  CHECK(rec.alerts[1].dedup_key == rec.alerts[0].dedup_key);
  CHECK(m.Open().size() == 1);
  CHECK(m.Open()[0].kinds.size() == 2);
  CHECK(rec.alerts[1].details["kinds"] == nlohmann::json::array({"delete_spike", "row_loss"}));
  // Another table is another incident.
  m.Observe("shop", {Event(SignalKind::kTruncate, "orders", t0 + absl::Seconds(2))});
  CHECK(m.Open().size() == 2);
  CHECK(rec.alerts.back().dedup_key == "pgwarden/production/shop/public.orders");
}

TEST_CASE("IncidentManager keeps a dropped schema and the dropped database apart", "[incidents]") {
  Recorder rec;
  IncidentManagerOptions o;
  o.environment = "production";
  IncidentManager m(o, &rec);
  const absl::Time t0 = absl::FromUnixSeconds(1700000000);
  SignalEvent schema = Event(SignalKind::kDestructiveDdl, "", t0);
  schema.schema = "archive";
  m.Observe("shop", {schema});
  m.Observe("shop", {Event(SignalKind::kDestructiveDdl, "", t0 + absl::Seconds(5))});
  REQUIRE(rec.alerts.size() == 2);
  CHECK(rec.alerts[0].dedup_key == "pgwarden/production/shop/schema archive");
  CHECK(rec.alerts[1].dedup_key == "pgwarden/production/shop/database");
  CHECK(m.Open().size() == 2);
}

TEST_CASE("IncidentManager resolves once quiet, and only then", "[incidents]") {
  Recorder rec;
  IncidentManagerOptions o;
  o.environment = "staging";
  o.resolve_after = absl::Seconds(30);
  IncidentManager m(o, &rec);
  int active = 0;
  int opened = 0;
  m.set_metrics_hook([&](const std::string&, SignalKind, bool open, int delta) {
    active += delta;
    opened += open;
  });
  const absl::Time t0 = absl::FromUnixSeconds(1700000000);
  m.Observe("shop", {Event(SignalKind::kRollbackRatio, "", t0, Severity::kError)});
  CHECK(active == 1);
  m.Tick(t0 + absl::Seconds(29));
  CHECK(m.Open().size() == 1);
  m.Tick(t0 + absl::Seconds(31));
  CHECK(m.Open().empty());
  CHECK(active == 0);
  CHECK(opened == 1);
  REQUIRE(rec.alerts.size() == 2);
  CHECK(rec.alerts[1].action == AlertAction::kResolve);
  CHECK(rec.alerts[1].dedup_key == "pgwarden/staging/shop/database");
  // Firing again later is a new incident with the same key.
  m.Observe("shop", {Event(SignalKind::kRollbackRatio, "", t0 + absl::Seconds(100))});
  CHECK(m.Open()[0].id == 2);
  CHECK(rec.alerts.back().dedup_key == "pgwarden/staging/shop/database");
}

TEST_CASE("DedupKey is deterministic and bounded", "[incidents]") {
  CHECK(DedupKey("p", "t", "s.x") == DedupKey("p", "t", "s.x"));
  CHECK(DedupKey("p", "t", "s.x") != DedupKey("p", "t", "s.y"));
  const std::string long_name(300, 'a');
  CHECK(DedupKey("p", "t", long_name).size() <= 255);
  CHECK(DedupKey("p", "t", long_name) != DedupKey("p", "t", long_name + "b"));
}

TEST_CASE("IncidentManager keeps open incidents across a restart and resolves them after",
          "[incidents]") {
  char tmpl[] = "/tmp/pgwarden-incidents-XXXXXX";
  REQUIRE(mkdtemp(tmpl) != nullptr);
  const std::string dir = tmpl;
  IncidentManagerOptions o;
  o.environment = "production";
  o.resolve_after = absl::Seconds(30);
  o.state_file = dir + "/incidents.json";
  const absl::Time t0 = absl::FromUnixSeconds(1700000000);
  int64_t id = 0;
  {
    Recorder rec;
    IncidentManager m(o, &rec);
    REQUIRE(m.Restore().ok());  // no file yet: nothing
    m.Observe("shop", {Event(SignalKind::kRowLoss, "customers", t0)});
    m.Observe("shop", {Event(SignalKind::kTruncate, "orders", t0)});
    m.Tick(t0 + absl::Seconds(31));  // both resolve: the file must forget them
    m.Observe("shop", {Event(SignalKind::kRowLoss, "customers", t0 + absl::Seconds(40))});
    REQUIRE(m.Open().size() == 1);
    id = m.Open()[0].id;
    m.Annotate(id, "remediation", {{"done", true}}, "nologin on cleanup_job",
               t0 + absl::Seconds(41));
  }  // the process dies here: no resolve was sent
  Recorder rec;
  IncidentManager m(o, &rec);
  std::map<SignalKind, int> active;  // by kind
  int opened_count = 0;
  m.set_metrics_hook([&](const std::string&, SignalKind kind, bool opened, int delta) {
    opened_count += opened ? 1 : 0;
    active[kind] += delta;
  });
  REQUIRE(m.Restore().ok());
  REQUIRE(m.Open().size() == 1);
  const Incident inc = m.Open()[0];
  CHECK(inc.id == id);
  CHECK(inc.dedup_key == "pgwarden/production/shop/public.customers");
  CHECK(inc.severity == Severity::kCritical);
  CHECK(absl::StrContains(inc.note, "nologin on cleanup_job"));
  CHECK(inc.details["remediation"]["done"] == true);
  CHECK(active[SignalKind::kRowLoss] == 1);  // active again, not counted as newly opened
  CHECK(opened_count == 0);
  // New incidents do not reuse its id.
  m.Observe("shop", {Event(SignalKind::kDropTable, "coupons", t0 + absl::Seconds(50))});
  CHECK(rec.alerts.back().incident_id > id);
  // Quiet since before the restart: it resolves, with its own dedup key.
  m.Tick(t0 + absl::Seconds(71));
  bool resolved = false;
  for (const Alert& a : rec.alerts) {
    if (a.action == AlertAction::kResolve && a.dedup_key == inc.dedup_key) resolved = true;
  }
  CHECK(resolved);
  CHECK(active[SignalKind::kRowLoss] == 0);
  std::filesystem::remove_all(dir);
}

TEST_CASE("IncidentManager moves an unreadable state file aside and names it", "[incidents]") {
  char tmpl[] = "/tmp/pgwarden-incidents-XXXXXX";
  REQUIRE(mkdtemp(tmpl) != nullptr);
  const std::string dir = tmpl;
  IncidentManagerOptions o;
  o.state_file = dir + "/incidents.json";
  std::ofstream(o.state_file) << "{\"next_id\": 3, \"open\": [{\"id\": ";
  Recorder rec;
  IncidentManager m(o, &rec);
  absl::Status s = m.Restore();
  REQUIRE_FALSE(s.ok());
  CHECK(std::string(s.message()).find(o.state_file) != std::string::npos);
  CHECK(std::filesystem::exists(o.state_file + ".bad"));
  CHECK(m.Open().empty());
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace pgwarden
