#ifndef PGWARDEN_TESTS_SOURCES_CHANGE_STREAM_TEST_UTIL_H_
#define PGWARDEN_TESTS_SOURCES_CHANGE_STREAM_TEST_UTIL_H_

// Helpers for the change stream's integration tests: a logical-decoding
// cluster, a temporary state directory and bounded waits.

#include <cstdlib>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "catch2/catch.hpp"
#include "devtools/local_postgres.h"
#include "sources/change_stream.h"
#include "sources/table_changes.h"

namespace pgwarden {
namespace testing {

// StartLogicalPostgres starts a cluster with wal_level = logical and the
// given max_slot_wal_keep_size.
inline std::unique_ptr<LocalPostgres> StartLogicalPostgres(const std::string& keep_size) {
  LocalPostgresOptions o;
  o.extra_conf = {"wal_level = logical", "max_wal_senders = 10", "max_replication_slots = 10",
                  absl::StrCat("max_slot_wal_keep_size = ", keep_size)};
  auto pg = LocalPostgres::Start(o);
  REQUIRE(pg.ok());
  return std::move(*pg);
}

inline std::string TempDir() {
  char tmpl[] = "/tmp/pgwarden-stream-XXXXXX";
  REQUIRE(mkdtemp(tmpl) != nullptr);
  return tmpl;
}

// WaitFor polls `done` every 50 ms for at most `timeout`.
inline bool WaitFor(const std::function<bool()>& done, absl::Duration timeout) {
  const absl::Time end = absl::Now() + timeout;
  while (absl::Now() < end) {
    if (done()) return true;
    absl::SleepFor(absl::Milliseconds(50));
  }
  return done();
}

inline ChangeStreamOptions StreamOptions(const LocalPostgres& pg, const std::string& state_dir) {
  ChangeStreamOptions o;
  o.target = "shop";
  o.dsn = pg.Dsn("postgres");
  o.slot = "pgwarden_test";
  o.state_dir = state_dir;
  o.audit_path = state_dir + "/audit.log";
  o.max_backoff = absl::Seconds(1);
  return o;
}

inline bool Streaming(const ChangeStream& s) { return s.status().state == "streaming"; }

// SlotField reads one column of the test slot's pg_replication_slots row.
inline std::string SlotField(const LocalPostgres& pg, const std::string& column) {
  auto r = pg.Psql(absl::StrCat("SELECT ", column,
                                " FROM pg_replication_slots WHERE slot_name = 'pgwarden_test'"));
  REQUIRE(r.ok());
  std::string out = *r;
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return out;
}

inline uint64_t LsnOf(const std::string& text) {
  uint64_t lsn = 0;
  REQUIRE(ParseLsn(text, &lsn));
  return lsn;
}

}  // namespace testing
}  // namespace pgwarden

#endif  // PGWARDEN_TESTS_SOURCES_CHANGE_STREAM_TEST_UTIL_H_
