// The test_decoding text parser and the transaction assembler, without a
// server: lines as PostgreSQL 15's contrib/test_decoding prints them.

#include "sources/test_decoding.h"

#include "absl/strings/match.h"
#include "absl/time/time.h"
#include "catch2/catch.hpp"

namespace pgwarden {
namespace {

TEST_CASE("BEGIN and COMMIT lines carry the xid and the commit time", "[test_decoding]") {
  auto b = ParseTestDecodingLine("BEGIN 1234");
  REQUIRE(b.ok());
  CHECK(b->kind == DecodedKind::kBegin);
  CHECK(b->xid == 1234);

  auto c = ParseTestDecodingLine("COMMIT 1234 (at 2026-12-02 05:00:00.123456+00)");
  REQUIRE(c.ok());
  CHECK(c->kind == DecodedKind::kCommit);
  CHECK(c->xid == 1234);
  CHECK(c->commit_time == absl::FromUnixMicros(1796187600123456));

  auto tz = ParseTestDecodingLine("COMMIT 7 (at 2026-12-02 10:30:00+05:30)");
  REQUIRE(tz.ok());
  CHECK(tz->commit_time == absl::FromUnixSeconds(1796187600));

  auto bare = ParseTestDecodingLine("COMMIT 4294967295");
  REQUIRE(bare.ok());
  CHECK(bare->xid == 4294967295u);
  CHECK(bare->commit_time == absl::InfinitePast());
}

TEST_CASE("row change lines name the table and the operation", "[test_decoding]") {
  auto d = ParseTestDecodingLine("table public.orders: DELETE: id[integer]:5");
  REQUIRE(d.ok());
  CHECK(d->kind == DecodedKind::kDelete);
  REQUIRE(d->tables.size() == 1);
  CHECK(d->tables[0].schema == "public");
  CHECK(d->tables[0].table == "orders");

  auto i = ParseTestDecodingLine(
      "table public.orders: INSERT: id[integer]:1 note[text]:'a: b, \"c\"' amount[numeric]:null");
  REQUIRE(i.ok());
  CHECK(i->kind == DecodedKind::kInsert);

  auto u = ParseTestDecodingLine(
      "table s.t: UPDATE: old-key: id[integer]:1 new-tuple: id[integer]:2 v[text]:'x'");
  REQUIRE(u.ok());
  CHECK(u->kind == DecodedKind::kUpdate);
  CHECK(u->tables[0].schema == "s");

  auto nodata = ParseTestDecodingLine("table public.nokey: DELETE: (no-tuple-data)");
  REQUIRE(nodata.ok());
  CHECK(nodata->kind == DecodedKind::kDelete);
}

TEST_CASE("quoted identifiers with spaces, colons, dots and doubled quotes are unquoted",
          "[test_decoding]") {
  auto d =
      ParseTestDecodingLine("table \"my schema\".\"we:ird \"\"x\"\"\": DELETE: \"Id\"[integer]:5");
  REQUIRE(d.ok());
  REQUIRE(d->tables.size() == 1);
  CHECK(d->tables[0].schema == "my schema");
  CHECK(d->tables[0].table == "we:ird \"x\"");

  auto dots = ParseTestDecodingLine("table \"a.b\".\"c, d\": INSERT: x[integer]:1");
  REQUIRE(dots.ok());
  CHECK(dots->tables[0].schema == "a.b");
  CHECK(dots->tables[0].table == "c, d");

  auto upper = ParseTestDecodingLine("table public.\"Orders\": UPDATE: id[integer]:1");
  REQUIRE(upper.ok());
  CHECK(upper->tables[0].table == "Orders");
}

TEST_CASE("TRUNCATE lines name every table truncated together", "[test_decoding]") {
  auto t = ParseTestDecodingLine("table public.a, \"x y\".\"b, c\": TRUNCATE: (no-flags)");
  REQUIRE(t.ok());
  CHECK(t->kind == DecodedKind::kTruncate);
  REQUIRE(t->tables.size() == 2);
  CHECK(t->tables[0].table == "a");
  CHECK(t->tables[1].schema == "x y");
  CHECK(t->tables[1].table == "b, c");
  auto flags = ParseTestDecodingLine("table public.a: TRUNCATE: restart_seqs cascade");
  REQUIRE(flags.ok());
  CHECK(flags->tables.size() == 1);
}

TEST_CASE("logical messages are ignored and malformed lines are errors naming the line",
          "[test_decoding]") {
  auto m = ParseTestDecodingLine("message: transactional: 1 prefix: p, sz: 3 content:a\nb");
  REQUIRE(m.ok());
  CHECK(m->kind == DecodedKind::kIgnored);

  for (const char* bad : {"", "BEGIN x", "BEGIN 12 extra", "COMMIT 12 (at yesterday)",
                          "COMMIT 12 (at 2026-12-02", "table public.orders DELETE: id[integer]:5",
                          "table \"unterminated: DELETE:", "table public.orders: MERGE: x",
                          "table a, b: DELETE: x", "table .x: INSERT:", "something else"}) {
    auto r = ParseTestDecodingLine(bad);
    INFO(bad);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == absl::StatusCode::kInvalidArgument);
    CHECK(absl::StrContains(r.status().message(), "malformed test_decoding line"));
  }
  auto r = ParseTestDecodingLine("table public.orders: MERGE: x");
  CHECK(absl::StrContains(r.status().message(), "table public.orders: MERGE: x"));
}

TEST_CASE("the assembler aggregates rows per watched table and delivers at COMMIT",
          "[test_decoding]") {
  TxnAssembler a([](const std::string& schema, const std::string& table) {
    return schema == "public" && table != "audit";
  });
  CHECK_FALSE(a.in_transaction());
  CHECK(a.Feed("BEGIN 900", 100).error.ok());
  CHECK(a.in_transaction());
  for (int i = 0; i < 1000; ++i) {
    FeedResult r = a.Feed("table public.orders: DELETE: id[integer]:1", 101);
    CHECK(r.error.ok());
    CHECK_FALSE(r.committed.has_value());
  }
  a.Feed("table public.orders: INSERT: id[integer]:1", 102);
  a.Feed("table public.audit: INSERT: id[integer]:1", 103);
  a.Feed("table public.items: UPDATE: id[integer]:1", 104);
  a.Feed("table public.items, other.x: TRUNCATE: (no-flags)", 105);
  a.Feed("message: transactional: 1 prefix: p, sz: 0 content:", 106);
  FeedResult c = a.Feed("COMMIT 900 (at 2026-12-02 05:00:00+00)", 0x20000);
  REQUIRE(c.error.ok());
  REQUIRE(c.committed.has_value());
  CHECK_FALSE(a.in_transaction());
  const CommittedTxn& t = *c.committed;
  CHECK(t.xid == 900);
  CHECK(t.commit_lsn == 0x20000);
  CHECK(t.commit_time == absl::FromUnixSeconds(1796187600));
  REQUIRE(t.tables.size() == 2);
  CHECK(t.tables[0].table == "orders");
  CHECK(t.tables[0].deleted == 1000);
  CHECK(t.tables[0].inserted == 1);
  CHECK_FALSE(t.tables[0].truncated);
  CHECK(t.tables[1].table == "items");
  CHECK(t.tables[1].updated == 1);
  CHECK(t.tables[1].truncated);
}

TEST_CASE("a transaction touching no watched table still commits, with no tables",
          "[test_decoding]") {
  TxnAssembler a([](const std::string&, const std::string&) { return false; });
  a.Feed("BEGIN 5", 1);
  a.Feed("table public.t: INSERT: id[integer]:1", 2);
  FeedResult c = a.Feed("COMMIT 5", 3);
  REQUIRE(c.committed.has_value());
  CHECK(c.committed->tables.empty());
  CHECK(c.committed->commit_lsn == 3);
}

TEST_CASE("a malformed line is reported and skipped without losing the rest of the stream",
          "[test_decoding]") {
  TxnAssembler a;
  a.Feed("BEGIN 1", 1);
  a.Feed("table public.t: DELETE: id[integer]:1", 2);
  FeedResult bad = a.Feed("table public.t DELETE garbage", 3);
  CHECK_FALSE(bad.error.ok());
  CHECK_FALSE(bad.committed.has_value());
  a.Feed("table public.t: DELETE: id[integer]:2", 4);
  FeedResult c = a.Feed("COMMIT 1", 5);
  REQUIRE(c.committed.has_value());
  CHECK(c.committed->tables.at(0).deleted == 2);

  // A COMMIT that cannot be read still ends its transaction.
  a.Feed("BEGIN 2", 6);
  a.Feed("table public.t: DELETE: id[integer]:3", 7);
  FeedResult badc = a.Feed("COMMIT 2 (at not-a-time)", 8);
  CHECK_FALSE(badc.error.ok());
  REQUIRE(badc.committed.has_value());
  CHECK(badc.committed->xid == 2);
  CHECK(badc.committed->tables.at(0).deleted == 1);
  CHECK_FALSE(a.in_transaction());

  // A change outside any transaction is an error, not a crash.
  CHECK_FALSE(a.Feed("table public.t: DELETE: id[integer]:4", 9).error.ok());
  // A BEGIN inside a transaction reports the lost one and starts afresh.
  a.Feed("BEGIN 3", 10);
  a.Feed("table public.t: DELETE: id[integer]:5", 11);
  CHECK(a.Feed("BEGIN 4", 12).error.code() == absl::StatusCode::kDataLoss);
  a.Feed("table public.t: DELETE: id[integer]:6", 13);
  FeedResult c4 = a.Feed("COMMIT 4", 14);
  REQUIRE(c4.committed.has_value());
  CHECK(c4.committed->xid == 4);
  CHECK(c4.committed->tables.at(0).deleted == 1);
}

TEST_CASE("Reset forgets the open transaction", "[test_decoding]") {
  TxnAssembler a;
  a.Feed("BEGIN 1", 1);
  a.Feed("table public.t: DELETE: id[integer]:1", 2);
  a.Reset();
  CHECK_FALSE(a.in_transaction());
  a.Feed("BEGIN 1", 1);
  a.Feed("table public.t: DELETE: id[integer]:1", 2);
  FeedResult c = a.Feed("COMMIT 1", 3);
  REQUIRE(c.committed.has_value());
  CHECK(c.committed->tables.at(0).deleted == 1);
}

}  // namespace
}  // namespace pgwarden
