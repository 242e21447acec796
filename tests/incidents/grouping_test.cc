// One incident per cause: the tables a culprit hits, what follows, and how
// often the page is updated.
#include "incidents/grouping.h"

#include <map>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "catch2/catch.hpp"
#include "incidents/manager.h"
#include "tests/incidents/recorder.h"

namespace pgwarden {
namespace {

const absl::Time kT0 = absl::FromUnixSeconds(1700000000);

absl::Time At(int seconds) { return kT0 + absl::Seconds(seconds); }

// Loss is a row_loss on public.`table` from `before` to `now` rows, by
// `role` when not empty (as the attributor writes it).
SignalEvent Loss(const std::string& table, int64_t before, int64_t now, absl::Time t,
                 const std::string& role = "") {
  SignalEvent e;
  e.kind = SignalKind::kRowLoss;
  e.schema = "public";
  e.table = table;
  e.time = t;
  e.description = "table public." + table + " lost rows";
  e.figures = {{"rows_baseline", before}, {"rows_now", now}, {"rows_lost", before - now}};
  if (!role.empty()) {
    e.figures["attribution"] = {
        {"culprits", {{{"role", role}, {"rows_attributed", before - now}, {"truncates", 0}}}}};
    e.description += "; by role " + role;
  }
  return e;
}

SignalEvent Database(SignalKind kind, absl::Time t) {
  SignalEvent e;
  e.kind = kind;
  e.severity = Severity::kError;
  e.time = t;
  e.description = std::string(SignalKindName(kind)) + " jumped";
  e.figures = {{"n", 1}};
  return e;
}

IncidentManagerOptions Options() {
  IncidentManagerOptions o;
  o.environment = "production";
  o.resolve_after = absl::Seconds(60);
  return o;
}

TEST_CASE("a culprit's tables are one incident, one key, the summary naming them all",
          "[incidents][grouping]") {
  Recorder rec;
  IncidentManager m(Options(), &rec);
  m.Observe("shop", {Loss("events", 100000, 76000, At(0), "cleanup_job")});
  m.Observe("shop", {Loss("customers", 50000, 38000, At(1), "cleanup_job"),
                     Loss("orders", 20000, 14000, At(1), "cleanup_job")});
  m.Observe("shop", {Loss("audit", 9000, 4000, At(2), "cleanup_job")});
  REQUIRE(m.Open().size() == 1);
  const Incident inc = m.Open()[0];
  CHECK(inc.role == "cleanup_job");
  CHECK(inc.members.size() == 4);
  CHECK(inc.dedup_key == "pgwarden/production/shop/public.events");
  // The first page at once; the tables that joined within 10 s in one update.
  REQUIRE(rec.Triggers().size() == 1);
  m.Tick(At(10));
  REQUIRE(rec.Triggers().size() == 2);
  const Alert page = rec.Triggers().back();
  CHECK(page.dedup_key == inc.dedup_key);
  CHECK(page.role == "cleanup_job");
  INFO(page.summary);
  CHECK(absl::StrContains(page.summary,
                          "role cleanup_job deleted 47,000 rows from 4 tables (public.events "
                          "24,000, public.customers 12,000, public.orders 6,000, ...)"));
  REQUIRE(page.details["tables"].size() == 4);
  CHECK(page.details["tables"][0]["object"] == "public.events");
  CHECK(page.details["tables"][0]["rows_before"] == 100000);
  CHECK(page.details["tables"][0]["rows_now"] == 76000);
  CHECK(page.details["tables"][0]["rows_lost"] == 24000);
  CHECK(page.details["culprit"] == "cleanup_job");
  // Nothing more to say: no more updates.
  m.Tick(At(30));
  CHECK(rec.Triggers().size() == 2);
}

TEST_CASE("two roles wiping two tables are two incidents, each naming its role",
          "[incidents][grouping]") {
  Recorder rec;
  IncidentManager m(Options(), &rec);
  m.Observe("shop", {Loss("customers", 1000, 100, At(0), "alice"),
                     Loss("orders", 1000, 200, At(0), "bob")});
  m.Observe("shop",
            {Loss("customers", 1000, 50, At(1), "alice"), Loss("orders", 1000, 100, At(1), "bob")});
  REQUIRE(m.Open().size() == 2);
  std::map<std::string, std::string> role_by_key;
  for (const Incident& inc : m.Open()) role_by_key[inc.dedup_key] = inc.role;
  CHECK(role_by_key["pgwarden/production/shop/public.customers"] == "alice");
  CHECK(role_by_key["pgwarden/production/shop/public.orders"] == "bob");
  CHECK(rec.Triggers().size() == 2);
  // bob then hits the table alice's incident opened on: it joins bob's,
  // under bob's key.
  m.Observe("shop", {Loss("customers", 50, 0, At(2), "bob")});
  REQUIRE(m.Open().size() == 2);
  for (const Incident& inc : m.Open()) {
    CHECK(inc.members.count("public.customers") == 1);
  }
}

TEST_CASE("an unattributed table joins its culprit's incident once attribution names one",
          "[incidents][grouping]") {
  Recorder rec;
  IncidentManager m(Options(), &rec);
  // Unattributed: one incident per object.
  m.Observe("shop", {Loss("customers", 1000, 800, At(0)), Loss("orders", 500, 400, At(0))});
  REQUIRE(m.Open().size() == 2);
  // Attribution names the culprit of customers: that incident is now the
  // culprit's (same key: PagerDuty sees an update, not a new incident).
  m.Observe("shop", {Loss("customers", 1000, 600, At(1), "cleanup_job")});
  REQUIRE(m.Open().size() == 2);
  // ... and orders, attributed to the same role, folds into it: its own
  // incident resolves, naming the one it joined.
  m.Observe("shop", {Loss("orders", 500, 300, At(2), "cleanup_job")});
  REQUIRE(m.Open().size() == 1);
  const Incident inc = m.Open()[0];
  CHECK(inc.dedup_key == "pgwarden/production/shop/public.customers");
  CHECK(inc.role == "cleanup_job");
  CHECK(inc.members.size() == 2);
  CHECK(inc.members.at("public.orders").rows_before == 500);
  CHECK(inc.members.at("public.orders").rows_now == 300);
  bool joined = false;
  for (const Alert& a : rec.alerts) {
    if (a.action == AlertAction::kResolve &&
        a.dedup_key == "pgwarden/production/shop/public.orders") {
      joined = absl::StrContains(a.summary, "joined incident " + std::to_string(inc.id));
    }
  }
  CHECK(joined);
  // Later unattributed signals of orders go to the culprit's incident too.
  m.Observe("shop", {Loss("orders", 500, 200, At(3))});
  CHECK(m.Open().size() == 1);
}

TEST_CASE("the aftermath joins an open destructive incident, else pages on its own",
          "[incidents][grouping]") {
  Recorder rec;
  IncidentManagerOptions o = Options();
  o.aftermath_window = absl::Minutes(10);
  IncidentManager m(o, &rec);
  m.Observe("shop", {Loss("customers", 1000, 100, At(0), "cleanup_job")});
  m.Observe("shop", {Database(SignalKind::kFailedLogins, At(5))});
  m.Observe("shop", {Database(SignalKind::kRollbackRatio, At(6))});
  REQUIRE(m.Open().size() == 1);
  m.Tick(At(10));
  const Alert update = rec.Triggers().back();
  CHECK(rec.Triggers().size() == 2);
  CHECK(update.details["aftermath"].contains("failed_logins"));
  CHECK(update.details["aftermath"].contains("rollback_ratio"));
  CHECK(absl::StrContains(update.summary, "followed by failed_logins, rollback_ratio"));
  // The incident resolves once everything is quiet; a storm within the
  // window after its last destructive signal reopens it.
  m.Tick(At(70));
  REQUIRE(m.Open().empty());
  m.Observe("shop", {Database(SignalKind::kFailedLogins, At(300))});
  REQUIRE(m.Open().size() == 1);
  CHECK(m.Open()[0].role == "cleanup_job");
  // After the window, a storm is an incident of its own.
  m.Tick(At(400));
  REQUIRE(m.Open().empty());
  m.Observe("shop", {Database(SignalKind::kRollbackRatio, At(1000))});
  REQUIRE(m.Open().size() == 1);
  CHECK(m.Open()[0].object == "database");
  CHECK(m.Open()[0].role.empty());
  CHECK(rec.Triggers().back().dedup_key == "pgwarden/production/shop/database");
}

TEST_CASE("a TRUNCATE of several tables in one statement is one incident",
          "[incidents][grouping]") {
  Recorder rec;
  IncidentManager m(Options(), &rec);
  std::vector<SignalEvent> events;
  for (const char* t : {"a", "b", "c"}) {
    SignalEvent e = Loss(t, 100, 0, At(0));
    e.kind = SignalKind::kTruncate;
    e.figures = {{"rows_before", 100}, {"rows_now", 0}};
    events.push_back(e);
  }
  m.Observe("shop", events);
  REQUIRE(m.Open().size() == 1);
  CHECK(m.Open()[0].members.size() == 3);
  REQUIRE(rec.Triggers().size() == 1);
  CHECK(absl::StrContains(rec.Triggers()[0].summary, "300 rows"));
}

TEST_CASE("page updates are sent at most once per update interval", "[incidents][grouping]") {
  Recorder rec;
  IncidentManager m(Options(), &rec);
  for (int i = 0; i < 30; ++i) {
    m.Observe("shop", {Loss("t" + std::to_string(i), 1000, 0, At(i), "cleanup_job")});
    m.Tick(At(i));
  }
  const std::vector<Alert> triggers = rec.Triggers();
  REQUIRE(triggers.size() >= 3);
  for (size_t i = 1; i < triggers.size(); ++i) {
    CHECK(triggers[i].timestamp - triggers[i - 1].timestamp >= absl::Seconds(9));
  }
  CHECK(triggers.size() <= 4);
}

TEST_CASE("partitions' rows add up under their parent", "[incidents][grouping]") {
  Incident inc;
  for (int p = 0; p < 3; ++p) {
    SignalEvent e = Loss("events", 1000, 800, At(p));
    e.figures["partition"] = "public.events_p" + std::to_string(p);
    AddMember(e, &inc);
  }
  SignalEvent again = Loss("events", 1000, 500, At(5));
  again.figures["partition"] = "public.events_p0";
  AddMember(again, &inc);
  const IncidentMember& m = inc.members.at("public.events");
  CHECK(m.rows_before == 3000);
  CHECK(m.rows_now == 2100);
  CHECK(m.RowsLost() == 900);
}

}  // namespace
}  // namespace pgwarden
