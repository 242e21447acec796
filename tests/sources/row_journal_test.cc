#include "sources/row_journal.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>

#include "catch2/catch.hpp"

namespace pgwarden {
namespace {

const absl::Time kT0 = absl::FromUnixSeconds(1700000000);

struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/pgwarden-journal-XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

JournalRow Row(uint32_t xid, uint64_t lsn, const std::string& table, int id) {
  JournalRow r;
  r.xid = xid;
  r.lsn = lsn;
  r.schema = "public";
  r.table = table;
  DecodedColumn c;
  c.name = "id";
  c.type = "bigint";
  c.value = std::to_string(id);
  DecodedColumn e;
  e.name = "email";
  e.type = "text";
  r.columns = {c, e};
  return r;
}

TEST_CASE("journal: committed rows are read back once, in their tables and LSN range") {
  TempDir dir;
  const std::string jdir = dir.path + "/journal";
  {
    RowJournal j(JournalOptions{jdir});
    REQUIRE(j.Open().ok());
    REQUIRE(j.AddRow(Row(10, 100, "customers", 1)).ok());
    REQUIRE(j.AddRow(Row(10, 101, "orders", 2)).ok());
    REQUIRE(j.Commit(JournalCommit{10, 150, kT0}, kT0).ok());
    // Resent from its BEGIN after a reconnect: the same changes again.
    REQUIRE(j.AddRow(Row(11, 200, "customers", 3)).ok());
    REQUIRE(j.AddRow(Row(11, 200, "customers", 3)).ok());
    REQUIRE(j.Commit(JournalCommit{11, 250, kT0}, kT0).ok());
    REQUIRE(j.AddRow(Row(12, 300, "customers", 4)).ok());  // never committed
  }
  struct stat st {};
  REQUIRE(::stat(jdir.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0700);
  for (const auto& e : std::filesystem::directory_iterator(jdir)) {
    REQUIRE(::stat(e.path().c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
  }
  auto rows = RowJournal::Read(jdir, {"public.customers"}, 0, UINT64_MAX);
  REQUIRE(rows.ok());
  REQUIRE(rows->size() == 2);
  CHECK((*rows)[0].columns[0].value == std::string("1"));
  CHECK((*rows)[1].columns[0].value == std::string("3"));
  CHECK_FALSE((*rows)[1].columns[1].value.has_value());  // NULL kept as NULL
  auto later = RowJournal::Read(jdir, {"public.customers"}, 200, UINT64_MAX);
  REQUIRE(later.ok());
  CHECK(later->size() == 1);
}

TEST_CASE("journal: past max_bytes the oldest segments go, their rows counted as dropped") {
  TempDir dir;
  JournalOptions o{dir.path + "/j"};
  o.segment_bytes = 1000;
  o.max_bytes = 5000;
  RowJournal j(o);
  REQUIRE(j.Open().ok());
  for (uint32_t x = 1; x <= 200; ++x) {
    REQUIRE(j.AddRow(Row(x, uint64_t{x} * 10, "customers", static_cast<int>(x))).ok());
    REQUIRE(j.Commit(JournalCommit{x, uint64_t{x} * 10 + 5, kT0}, kT0).ok());
    CHECK(j.bytes() <= o.max_bytes + o.segment_bytes);
  }
  CHECK(j.dropped() > 0);
  auto rows = RowJournal::Read(o.dir, {"public.customers"}, 0, UINT64_MAX);
  REQUIRE(rows.ok());
  CHECK(static_cast<int64_t>(rows->size()) + j.dropped() == 200);
  CHECK(rows->back().columns[0].value == std::string("200"));  // the newest kept
}

TEST_CASE("journal: segments older than max_age go, and a reopened journal continues") {
  TempDir dir;
  JournalOptions o{dir.path + "/j"};
  o.segment_bytes = 200;
  o.max_age = absl::Hours(24);
  {
    RowJournal j(o);
    REQUIRE(j.Open().ok());
    REQUIRE(j.AddRow(Row(1, 10, "customers", 1)).ok());
    REQUIRE(j.Commit(JournalCommit{1, 15, kT0}, kT0).ok());
  }
  RowJournal j(o);
  REQUIRE(j.Open().ok());
  const absl::Time later = kT0 + absl::Hours(25);
  REQUIRE(j.AddRow(Row(2, 20, "customers", 2)).ok());
  REQUIRE(j.Commit(JournalCommit{2, 25, later}, later).ok());
  CHECK(j.dropped() == 1);
  auto rows = RowJournal::Read(o.dir, {"public.customers"}, 0, UINT64_MAX);
  REQUIRE(rows.ok());
  REQUIRE(rows->size() == 1);
  CHECK(rows->front().xid == 2);
}

}  // namespace
}  // namespace pgwarden
