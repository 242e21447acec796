// The incident state file: durable writes, a failing fsync reported and
// counted, and no lock held while the disk is written.

#include "incidents/store.h"

#include <stdlib.h>

#include <atomic>
#include <cerrno>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/match.h"
#include "absl/synchronization/notification.h"
#include "catch2/catch.hpp"
#include "core/durable_file.h"
#include "incidents/manager.h"
#include "tests/support/counting_degraded.h"
#include "tests/support/failing_fsync.h"

namespace pgwarden {
namespace {

std::string TempDir() {
  char tmpl[] = "/tmp/pgwarden-store-XXXXXX";
  REQUIRE(::mkdtemp(tmpl) != nullptr);
  return tmpl;
}

std::string Read(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

SignalEvent Loss(absl::Time t) {
  SignalEvent e;
  e.kind = SignalKind::kRowLoss;
  e.schema = "public";
  e.table = "customers";
  e.time = t;
  e.description = "lost rows";
  return e;
}

TEST_CASE("IncidentStore round-trips open incidents, and moves a bad file aside",
          "[incidents][store]") {
  const std::string dir = TempDir();
  IncidentStore store(dir + "/incidents.json");
  Incident inc;
  inc.id = 3;
  inc.dedup_key = "pgwarden/prod/shop/public.customers";
  inc.target = "shop";
  inc.object = "public.customers";
  inc.kind = SignalKind::kTruncate;
  inc.kinds = {SignalKind::kTruncate, SignalKind::kRowLoss};
  REQUIRE(store.Write(IncidentStore::Encode(4, {&inc})).ok());
  absl::StatusOr<IncidentState> back = store.Load();
  REQUIRE(back.ok());
  CHECK(back->next_id == 4);
  REQUIRE(back->open.size() == 1);
  CHECK(back->open[0].kind == SignalKind::kTruncate);
  CHECK(back->open[0].kinds.size() == 2);

  std::ofstream(dir + "/incidents.json") << "{\"next_id\": 1, \"open\": [{\"id\": 1}]}";
  absl::Status bad = store.Load().status();
  CHECK(absl::IsDataLoss(bad));
  CHECK(absl::StrContains(bad.message(), "moved to " + dir + "/incidents.json.bad"));
  CHECK(std::filesystem::exists(dir + "/incidents.json.bad"));
  CHECK(store.Load()->open.empty());  // then starts empty
  std::filesystem::remove_all(dir);
}

TEST_CASE("a failing fsync keeps the old state file, is reported and counted",
          "[incidents][store]") {
  const std::string dir = TempDir();
  const std::string path = dir + "/incidents.json";
  IncidentManagerOptions o;
  o.environment = "prod";
  o.state_file = path;
  IncidentManager m(o, nullptr);
  testing::CountingDegraded degraded;
  m.set_degraded(&degraded);
  const absl::Time t0 = absl::FromUnixSeconds(1700000000);
  m.Observe("shop", {Loss(t0)});
  const std::string before = Read(path);
  REQUIRE(absl::StrContains(before, "public.customers"));

  {
    testing::FailingFsync fail;
    m.Tick(t0 + absl::Minutes(5));  // resolves: the state would become empty
  }
  CHECK(degraded.Get("", kDegradedStatePersist) == 1);
  CHECK(Read(path) == before);  // the old state survives a failed write

  IncidentStore store(path);
  absl::Status s;
  {
    testing::FailingFsync fail;
    s = store.Write("{}");
  }
  CHECK_FALSE(s.ok());
  CHECK(absl::StrContains(s.message(), dir));
  std::filesystem::remove_all(dir);
}

TEST_CASE("the status page does not wait on a state write in progress", "[incidents][store]") {
  const std::string dir = TempDir();
  IncidentManagerOptions o;
  o.environment = "prod";
  o.state_file = dir + "/incidents.json";
  IncidentManager m(o, nullptr);
  absl::Notification entered, release;
  std::atomic<bool> timed_out{false};
  internal::FsyncFunction prev = internal::SetFsyncForTesting([&](int) {
    if (!entered.HasBeenNotified()) entered.Notify();
    if (!release.WaitForNotificationWithTimeout(absl::Seconds(10))) timed_out = true;
    return 0;
  });
  std::thread writer([&] { m.Observe("shop", {Loss(absl::FromUnixSeconds(1700000000))}); });
  REQUIRE(entered.WaitForNotificationWithTimeout(absl::Seconds(10)));
  // The write is blocked in fsync: the status page and Open() still answer.
  const nlohmann::json status = m.StatusJson();
  CHECK(status["open"].size() == 1);
  CHECK(m.Open().size() == 1);
  CHECK_FALSE(timed_out);
  release.Notify();
  writer.join();
  internal::SetFsyncForTesting(prev);
  CHECK_FALSE(timed_out);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace pgwarden
