#include "agent/incidents.h"

#include <vector>

#include "catch2/catch.hpp"

namespace pgwarden {
namespace {

class Recorder : public Notifier {
 public:
  void Notify(const Alert& a) override { alerts.push_back(a); }
  std::vector<Alert> alerts;
};

SignalEvent Event(const std::string& kind, const std::string& table, absl::Time t,
                  Severity sev = Severity::kCritical) {
  SignalEvent e;
  e.kind = kind;
  e.schema = table.empty() ? "" : "public";
  e.table = table;
  e.severity = sev;
  e.time = t;
  e.description = kind + " on " + table;
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
  m.Observe("shop", {Event(kKindRowLoss, "customers", t0)});
  m.Observe("shop", {Event(kKindRowLoss, "customers", t0 + absl::Seconds(1))});
  REQUIRE(rec.alerts.size() == 1);
  CHECK(rec.alerts[0].action == AlertAction::kTrigger);
  CHECK(rec.alerts[0].dedup_key == "pgwarden/production/shop/public.customers");
  CHECK(rec.alerts[0].summary.find("shop") != std::string::npos);
  // A new kind on the same table joins the incident and re-sends the page.
  m.Observe("shop",
            {Event(kKindDeleteSpike, "customers", t0 + absl::Seconds(2), Severity::kError)});
  REQUIRE(rec.alerts.size() == 2);
  CHECK(rec.alerts[1].dedup_key == rec.alerts[0].dedup_key);
  CHECK(m.Open().size() == 1);
  CHECK(m.Open()[0].kinds.size() == 2);
  // Another table is another incident.
  m.Observe("shop", {Event(kKindTruncate, "orders", t0 + absl::Seconds(2))});
  CHECK(m.Open().size() == 2);
  CHECK(rec.alerts.back().dedup_key == "pgwarden/production/shop/public.orders");
}

TEST_CASE("IncidentManager resolves once quiet, and only then", "[incidents]") {
  Recorder rec;
  IncidentManagerOptions o;
  o.environment = "staging";
  o.resolve_after = absl::Seconds(30);
  IncidentManager m(o, &rec);
  int active = 0;
  int opened = 0;
  m.set_metrics_hook([&](const std::string&, const std::string&, bool open, int delta) {
    active += delta;
    opened += open;
  });
  const absl::Time t0 = absl::FromUnixSeconds(1700000000);
  m.Observe("shop", {Event(kKindRollbackRatio, "", t0, Severity::kError)});
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
  m.Observe("shop", {Event(kKindRollbackRatio, "", t0 + absl::Seconds(100))});
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

}  // namespace
}  // namespace pgwarden
