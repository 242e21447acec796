// `pgwarden check` on the change stream's prerequisites and `pgwarden slot
// drop` (dry run, refused while the agent streams, audited), against the real
// binary and a real PostgreSQL 15 with wal_level = logical.

#include <signal.h>

#include <fstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "devtools/process.h"
#include "tests/integration/commit_time.h"
#include "tests/integration/run_pgwarden.h"

namespace pgwarden::testing {
namespace {

std::string Slots(const Scenario& sc) {
  auto r = sc.pg->Psql("SELECT count(*) FROM pg_replication_slots", "shop");
  REQUIRE(r.ok());
  return *r;
}

TEST_CASE(
    "CLI: check reports the change stream's prerequisites, slot drop removes the slot "
    "(dry run first, refused while streaming, audited)",
    "[integration][cli][change_stream]") {
  Scenario sc(1000, LogicalOptions());
  const std::string yaml = WithTargetLines(sc.Yaml("off"), TargetLines(Path::kStream));
  const std::string config = sc.pg->dir() + "/check.yaml";
  std::ofstream(config) << yaml;

  CommandResult missing = Run({"check", "--config", config});
  INFO(missing.output);
  CHECK(missing.code == 1);
  CHECK(absl::StrContains(missing.output, "wal_level logical"));
  CHECK(absl::StrContains(missing.output, "lacks REPLICATION (ALTER ROLE pgwarden REPLICATION)"));
  CHECK(absl::StrContains(missing.output, "max_slot_wal_keep_size 1024MB"));
  CHECK(absl::StrContains(missing.output, "paths: change_stream, statements"));

  GrantReplication(sc);
  CommandResult ready = Run({"check", "--config", config});
  INFO(ready.output);
  CHECK(ready.code == 0);
  CHECK(absl::StrContains(ready.output, "slot pgwarden_shop does not exist yet"));

  sc.StartAgent(yaml);
  WaitStreaming(sc);
  CommandResult streaming = Run({"check", "--config", config});
  INFO(streaming.output);
  CHECK(absl::StrContains(streaming.output, "slot pgwarden_shop (test_decoding, active"));
  CHECK(absl::StrContains(streaming.output, "of WAL, lag"));
  CommandResult busy = Run({"slot", "drop", "--config", config});
  INFO(busy.output);
  CHECK(busy.code == 1);
  CHECK(absl::StrContains(busy.output, "NOT dropped"));
  CHECK(Slots(sc) == "1");

  sc.agent->Kill(SIGTERM);
  REQUIRE(WaitUntil(
      [&] {
        auto r = sc.pg->Psql("SELECT count(*) FROM pg_replication_slots WHERE active", "shop");
        return r.ok() && *r == "0";
      },
      absl::Seconds(10)));
  CommandResult dry = Run({"slot", "drop", "--config", config, "--dry-run"});
  INFO(dry.output);
  CHECK(dry.code == 0);
  CHECK(absl::StrContains(dry.output, "would run: SELECT pg_drop_replication_slot("));
  CHECK(Slots(sc) == "1");
  CommandResult drop = Run({"slot", "drop", "--config", config});
  INFO(drop.output);
  CHECK(drop.code == 0);
  CHECK(absl::StrContains(drop.output, "ran: SELECT pg_drop_replication_slot("));
  CHECK(Slots(sc) == "0");
  std::ifstream audit(sc.pg->dir() + "/state/audit.log");
  std::string all((std::istreambuf_iterator<char>(audit)), std::istreambuf_iterator<char>());
  CHECK(absl::StrContains(all, "\"create_slot\""));
  CHECK(absl::StrContains(all, "\"drop_slot\""));
  CHECK(Run({"slot", "list", "--config", config}).code == 2);
}

}  // namespace
}  // namespace pgwarden::testing
