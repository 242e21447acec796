// The change stream against a real PostgreSQL 15 with wal_level = logical:
// what is delivered, when, and the position confirmed to the server.

#include <atomic>
#include <pqxx/pqxx>
#include <thread>

#include "absl/strings/ascii.h"
#include "sources/change_stream.h"
#include "tests/sources/change_stream_test_util.h"

namespace pgwarden {
namespace {

using testing::LsnOf;
using testing::SlotField;
using testing::StartLogicalPostgres;
using testing::Streaming;
using testing::StreamOptions;
using testing::TempDir;
using testing::WaitFor;

const TableChange* Find(const CommittedTxn& t, const std::string& table) {
  for (const TableChange& c : t.tables) {
    if (c.table == table) return &c;
  }
  return nullptr;
}

TEST_CASE("committed writes on watched tables arrive with xid, commit LSN, time and counts",
          "[integration][change_stream]") {
  auto pg = StartLogicalPostgres("64MB");
  REQUIRE(pg->Psql("CREATE TABLE orders (id int PRIMARY KEY, v int);"
                   "CREATE TABLE items (id int PRIMARY KEY);"
                   "CREATE TABLE noise (id int);"
                   "CREATE TABLE big (id int PRIMARY KEY);"
                   "CREATE SCHEMA \"my schema\";"
                   "CREATE TABLE \"my schema\".\"we:ird \"\"x\"\"\" (id int PRIMARY KEY);"
                   "INSERT INTO big SELECT g FROM generate_series(1, 50000) g;"
                   "INSERT INTO items VALUES (1), (2);"
                   "INSERT INTO \"my schema\".\"we:ird \"\"x\"\"\" VALUES (1), (2), (3)")
              .ok());
  const std::string dir = TempDir();
  ChangeStreamOptions o = StreamOptions(*pg, dir);
  o.watched = [](const std::string&, const std::string& table) { return table != "noise"; };
  std::atomic<int> wakeups{0};
  o.on_data = [&wakeups] { ++wakeups; };
  ChangeStream stream(o);
  stream.Start();
  REQUIRE(WaitFor([&] { return Streaming(stream); }, absl::Seconds(10)));

  pqxx::connection c(pg->Dsn("postgres"));
  const absl::Time before = absl::Now() - absl::Seconds(1);
  uint64_t lsn_before =
      LsnOf(pqxx::nontransaction(c).exec1("SELECT pg_current_wal_lsn()")[0].c_str());
  int64_t xid = 0;
  {
    pqxx::work tx(c);
    tx.exec("INSERT INTO orders SELECT g, 0 FROM generate_series(1, 10) g");
    tx.exec("UPDATE orders SET v = 1 WHERE id <= 3");
    tx.exec("DELETE FROM orders WHERE id <= 5");
    tx.exec("INSERT INTO noise SELECT g FROM generate_series(1, 7) g");
    xid = tx.exec1("SELECT txid_current()")[0].as<int64_t>();
    tx.commit();
  }
  {
    pqxx::work tx(c);
    tx.exec("DELETE FROM big");  // rolled back: never delivered
    tx.abort();
  }
  REQUIRE(pg->Psql("TRUNCATE items").ok());
  REQUIRE(pg->Psql("INSERT INTO noise VALUES (1)").ok());  // unwatched only: not delivered
  REQUIRE(pg->Psql("DELETE FROM \"my schema\".\"we:ird \"\"x\"\"\" WHERE id < 3").ok());
  const absl::Time after = absl::Now() + absl::Seconds(1);

  std::vector<CommittedTxn> got;
  REQUIRE(WaitFor(
      [&] {
        for (CommittedTxn& t : stream.Drain()) got.push_back(std::move(t));
        return got.size() >= 3;
      },
      absl::Seconds(10)));
  absl::SleepFor(absl::Milliseconds(500));
  for (CommittedTxn& t : stream.Drain()) got.push_back(std::move(t));
  REQUIRE(got.size() == 3);

  const CommittedTxn& first = got[0];
  CHECK(first.xid == static_cast<uint32_t>(xid));
  CHECK(first.commit_lsn > lsn_before);
  CHECK(first.commit_time > before);
  CHECK(first.commit_time < after);
  REQUIRE(first.tables.size() == 1);  // noise filtered out
  CHECK(first.tables[0].schema == "public");
  CHECK(first.tables[0].table == "orders");
  CHECK(first.tables[0].inserted == 10);
  CHECK(first.tables[0].updated == 3);
  CHECK(first.tables[0].deleted == 5);

  REQUIRE(Find(got[1], "items") != nullptr);
  CHECK(Find(got[1], "items")->truncated);
  CHECK(got[1].commit_lsn > first.commit_lsn);
  REQUIRE(got[2].tables.size() == 1);
  CHECK(got[2].tables[0].schema == "my schema");
  CHECK(got[2].tables[0].table == "we:ird \"x\"");
  CHECK(got[2].tables[0].deleted == 2);
  for (const CommittedTxn& t : got) CHECK(Find(t, "big") == nullptr);

  const ChangeCounts counts = stream.counts();
  CHECK(counts.transactions == 3);
  CHECK(counts.deleted == 7);
  CHECK(counts.inserted == 10);
  CHECK(counts.updated == 3);
  CHECK(counts.truncates == 1);
  CHECK(counts.malformed_lines == 0);
  CHECK(wakeups.load() >= 1);
  CHECK(stream.status().up);
  stream.Stop();
  CHECK(stream.status().state == "stopped");
}

TEST_CASE("a purge committing inside one CALL is delivered per COMMIT while the CALL runs",
          "[integration][change_stream]") {
  auto pg = StartLogicalPostgres("64MB");
  REQUIRE(pg->Psql("CREATE TABLE t (id int PRIMARY KEY);"
                   "INSERT INTO t SELECT g FROM generate_series(1, 500) g;"
                   "CREATE PROCEDURE purge() LANGUAGE plpgsql AS $$ BEGIN"
                   " FOR i IN 1..5 LOOP"
                   "  DELETE FROM t WHERE id > (i - 1) * 100 AND id <= i * 100;"
                   "  COMMIT;"
                   "  PERFORM pg_sleep(1);"
                   " END LOOP; END $$")
              .ok());
  const std::string dir = TempDir();
  ChangeStream stream(StreamOptions(*pg, dir));
  stream.Start();
  REQUIRE(WaitFor([&] { return Streaming(stream); }, absl::Seconds(10)));

  std::atomic<bool> call_done{false};
  std::thread call([&] {
    pqxx::connection c(pg->Dsn("postgres"));
    pqxx::nontransaction(c).exec("CALL purge()");
    call_done = true;
  });
  std::vector<CommittedTxn> got;
  bool seen_while_running = WaitFor(
      [&] {
        for (CommittedTxn& t : stream.Drain()) got.push_back(std::move(t));
        return got.size() >= 2;
      },
      absl::Seconds(4));
  const bool still_running = !call_done.load();
  call.join();
  CHECK(seen_while_running);
  CHECK(still_running);
  REQUIRE(WaitFor(
      [&] {
        for (CommittedTxn& t : stream.Drain()) got.push_back(std::move(t));
        return got.size() >= 5;
      },
      absl::Seconds(5)));
  REQUIRE(got.size() == 5);
  for (const CommittedTxn& t : got) {
    REQUIRE(t.tables.size() == 1);
    CHECK(t.tables[0].deleted == 100);
  }
  CHECK(stream.counts().deleted == 500);
}

TEST_CASE("the confirmed flush position advances for writes on unwatched tables only",
          "[integration][change_stream]") {
  auto pg = StartLogicalPostgres("64MB");
  REQUIRE(pg->Psql("CREATE TABLE t (id int)").ok());
  const std::string dir = TempDir();
  ChangeStreamOptions o = StreamOptions(*pg, dir);
  o.watched = [](const std::string&, const std::string&) { return false; };
  ChangeStream stream(o);
  stream.Start();
  REQUIRE(WaitFor([&] { return Streaming(stream); }, absl::Seconds(10)));
  const uint64_t start = LsnOf(SlotField(*pg, "confirmed_flush_lsn"));
  for (int i = 0; i < 20; ++i) REQUIRE(pg->Psql("INSERT INTO t VALUES (1)").ok());
  auto now = pg->Psql("SELECT pg_current_wal_lsn()");
  REQUIRE(now.ok());
  const uint64_t written = LsnOf(std::string(absl::StripAsciiWhitespace(*now)));
  CHECK(WaitFor([&] { return LsnOf(SlotField(*pg, "confirmed_flush_lsn")) >= written; },
                absl::Seconds(8)));
  CHECK(LsnOf(SlotField(*pg, "confirmed_flush_lsn")) > start);
  CHECK(stream.Drain().empty());
  CHECK(stream.counts().transactions == 0);
  CHECK(WaitFor([&] { return stream.status().confirmed_lsn >= written; }, absl::Seconds(3)));
}

}  // namespace
}  // namespace pgwarden
