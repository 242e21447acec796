#include "sources/server_log.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <fstream>
#include <string>

#include "absl/strings/match.h"
#include "catch2/catch.hpp"

namespace pgwarden {
namespace {

LoginFailure Parse(const std::string& line) {
  LoginFailure f;
  f.reason = "(none)";
  if (!ParseLoginFailure(line, &f)) f.reason = "(none)";
  return f;
}

TEST_CASE("ParseLoginFailure reads stderr, verbose and csvlog failures", "[server_log]") {
  struct Case {
    std::string line, reason, user;
  };
  const Case cases[] = {
      {"2026-11-26 01:20:00.123 UTC [4242] app@shop FATAL:  password authentication failed for "
       "user \"app\"",
       "password", "app"},
      {"2026-11-26 01:20:00 UTC [1] FATAL:  28P01: password authentication failed for user "
       "\"we\"ird\"",
       "password", "we\"ird"},
      {"[1] FATAL:  no pg_hba.conf entry for host \"10.0.3.7\", user \"mallory\", database "
       "\"shop\", no encryption",
       "no_hba_entry", "mallory"},
      {"[1] FATAL:  pg_hba.conf rejects connection for host \"10.0.3.7\", user \"eve\", "
       "database \"shop\", no encryption",
       "hba_reject", "eve"},
      {"x FATAL:  role \"ghost\" does not exist", "no_such_role", "ghost"},
      {"x FATAL:  Peer authentication failed for user \"bob\"", "authentication", "bob"},
      {"2026-11-26 01:20:00.123 UTC,\"app\",\"shop\",4242,\"127.0.0.1:5000\",6561a.1,1,"
       "\"authentication\",2026-11-26 01:20:00 UTC,3/1,0,FATAL,28P01,\"password authentication "
       "failed for user \"\"a,b\"\"\",\"Connection matched pg_hba.conf line 3\",,,,,,,,,\"\"",
       "password", "a,b"},
  };
  for (const Case& c : cases) {
    INFO(c.line);
    const LoginFailure f = Parse(c.line);
    CHECK(f.reason == c.reason);
    CHECK(f.user == c.user);
  }
}

TEST_CASE("ParseLoginFailure ignores echoed statements, ERRORs and other FATALs", "[server_log]") {
  CHECK(Parse("[1] app@shop LOG:  statement: SELECT 'FATAL:  password authentication failed for "
              "user \"x\"'")
            .reason == "(none)");
  CHECK(Parse("[1] app@shop ERROR:  role \"ghost\" does not exist").reason == "(none)");
  CHECK(Parse("[1] app@shop FATAL:  terminating connection due to administrator command").reason ==
        "(none)");
  CHECK(Parse("").reason == "(none)");
  CHECK(Parse("FATAL:").reason == "(none)");
}

struct TempLog {
  std::string dir;
  std::string path;
  TempLog() {
    char tmpl[] = "/tmp/pgwarden-log-XXXXXX";
    REQUIRE(mkdtemp(tmpl) != nullptr);
    dir = tmpl;
    path = dir + "/postgresql.log";
  }
  ~TempLog() {
    unlink(path.c_str());
    unlink((path + ".1").c_str());
    rmdir(dir.c_str());
  }
  void Append(const std::string& text) const {
    std::ofstream out(path, std::ios::app);
    out << text;
  }
};

const char kFail[] = "[1] FATAL:  password authentication failed for user \"app\"\n";

TEST_CASE("ServerLogTail starts at the end, reads whole lines, keeps a partial line",
          "[server_log]") {
  TempLog log;
  log.Append(std::string(kFail) + kFail);  // history: not counted
  ServerLogTail tail(log.path);
  auto r = tail.Poll();
  REQUIRE(r.ok());
  CHECK(r->total == 0);
  log.Append(std::string(kFail) + "[1] FATAL:  password authentication fai");
  r = tail.Poll();
  REQUIRE(r.ok());
  CHECK(r->total == 1);
  CHECK(r->lines == 1);
  log.Append("led for user \"bob\"\n[1] LOG:  checkpoint starting\n");
  r = tail.Poll();
  REQUIRE(r.ok());
  CHECK(r->total == 1);
  CHECK(r->by_user.at("bob") == 1);
  CHECK(r->by_reason.at("password") == 1);
  CHECK(r->lines == 2);
}

TEST_CASE("ServerLogTail follows rotation and truncation from the new start", "[server_log]") {
  TempLog log;
  log.Append("[1] LOG:  started\n");
  ServerLogTail tail(log.path);
  REQUIRE(tail.Poll().ok());
  log.Append(kFail);
  REQUIRE(rename(log.path.c_str(), (log.path + ".1").c_str()) == 0);
  log.Append(std::string(kFail) + kFail);  // the new file
  auto r = tail.Poll();
  REQUIRE(r.ok());
  CHECK(r->rotated);
  // Lines appended to the old file after the last poll and before the
  // rotation are not read (like tail -F, the new file wins).
  CHECK(r->total == 2);
  // Truncated in place (copytruncate): read again from the start.
  { std::ofstream trunc(log.path, std::ios::trunc); }
  log.Append(kFail);
  r = tail.Poll();
  REQUIRE(r.ok());
  CHECK(r->rotated);
  CHECK(r->total == 1);
}

TEST_CASE("ServerLogTail bounds a poll and skips an over-long line", "[server_log]") {
  TempLog log;
  ServerLogTailOptions opts;
  opts.start_at_end = false;
  opts.max_line_bytes = 100;
  opts.max_bytes_per_poll = 4096;
  log.Append(std::string(500, 'x') + " FATAL:  password authentication failed for user \"a\"\n");
  std::string many;
  for (int i = 0; i < 200; ++i) many += kFail;  // 200 * 61 bytes
  log.Append(many);
  ServerLogTail tail(log.path, opts);
  int64_t total = 0;
  int polls = 0;
  for (; polls < 20; ++polls) {
    auto r = tail.Poll();
    REQUIRE(r.ok());
    if (r->lines == 0) break;
    total += r->total;
  }
  CHECK(polls > 2);     // the budget split the work
  CHECK(total == 200);  // the long line was skipped, nothing else lost
}

TEST_CASE("ServerLogTail names the path when the log cannot be opened", "[server_log]") {
  ServerLogTail tail("/nonexistent/pgwarden/postgresql.log");
  auto r = tail.Poll();
  REQUIRE_FALSE(r.ok());
  CHECK(absl::StrContains(r.status().message(), "/nonexistent/pgwarden/postgresql.log"));
}

LoggedStatement ParseStatement(const std::string& line) {
  LoggedStatement s;
  if (!ParseLoggedStatement(line, &s)) s.statement = "(none)";
  return s;
}

TEST_CASE("ParseLoggedStatement reads user, database and statement of each log format",
          "[server_log]") {
  LoggedStatement s = ParseStatement(
      "2026-12-02 17:00:00.123 UTC [4242] cleanup_job@shop LOG:  statement: ALTER TABLE "
      "customers DROP COLUMN email");
  CHECK(s.user == "cleanup_job");
  CHECK(s.database == "shop");
  CHECK(s.statement == "ALTER TABLE customers DROP COLUMN email");
  s = ParseStatement(
      "2026-12-02 17:00:00 UTC [1] user=ops,db=billing LOG:  00000: statement: "
      "DROP SCHEMA archive CASCADE");
  CHECK(s.user == "ops");
  CHECK(s.database == "billing");
  CHECK(s.statement == "DROP SCHEMA archive CASCADE");
  s = ParseStatement("[1] app@shop LOG:  execute <unnamed>: ALTER TABLE t DROP x");
  CHECK(s.user == "app");
  CHECK(s.statement == "ALTER TABLE t DROP x");
  s = ParseStatement(
      "2026-12-02 17:00:00.123 UTC,\"mig\",\"shop\",42,\"127.0.0.1:5000\",abc.1,3,\"idle\","
      "2026-12-02 16:59:00 UTC,3/7,0,LOG,00000,\"statement: ALTER TABLE \"\"Orders\"\" DROP "
      "note\",,,,,,,,,\"psql\",client backend,,0");
  CHECK(s.user == "mig");
  CHECK(s.database == "shop");
  CHECK(s.statement == "ALTER TABLE \"Orders\" DROP note");
  s = ParseStatement("[1] LOG:  statement: DROP DATABASE shop");  // no user in the prefix
  CHECK(s.user.empty());
  CHECK(s.statement == "DROP DATABASE shop");
}

TEST_CASE("ParseLoggedStatement ignores other LOG lines and errors", "[server_log]") {
  CHECK(ParseStatement("[1] LOG:  checkpoint starting: time").statement == "(none)");
  CHECK(ParseStatement("[1] app@shop LOG:  duration: 3.1 ms").statement == "(none)");
  CHECK(ParseStatement("[1] app@shop ERROR:  column \"x\" does not exist").statement == "(none)");
  CHECK(ParseStatement("[1] app@shop STATEMENT:  ALTER TABLE t DROP x").statement == "(none)");
}

TEST_CASE("ServerLogTail keeps logged ALTER and DROP statements with their continuation lines",
          "[server_log]") {
  TempLog log;
  log.Append("");
  ServerLogTail tail(log.path);
  REQUIRE(tail.Poll().ok());
  log.Append(
      "[1] mig@shop LOG:  statement: ALTER TABLE customers\n\tDROP COLUMN email\n"
      "[1] mig@shop LOG:  statement: CREATE INDEX ON t (x)\n"
      "[1] mig@shop LOG:  statement: ALTER ROLE app PASSWORD 'x'\n"
      "[2] app@shop LOG:  statement: drop schema archive cascade\n"
      "[3] app@shop FATAL:  password authentication failed for user \"app\"\n");
  auto r = tail.Poll();
  REQUIRE(r.ok());
  CHECK(r->total == 1);
  // ALTER ROLE is kept by the tail (an ALTER); DdlLog keeps only destructive ones.
  REQUIRE(r->statements.size() == 3);
  CHECK(r->statements[0].statement == "ALTER TABLE customers\nDROP COLUMN email");
  CHECK(r->statements[0].user == "mig");
  CHECK(r->statements[2].statement == "drop schema archive cascade");
  CHECK(r->statements[2].user == "app");
}

TEST_CASE("ServerLogTail bounds the statements kept per poll", "[server_log]") {
  TempLog log;
  log.Append("");
  ServerLogTail tail(log.path);
  REQUIRE(tail.Poll().ok());
  std::string many;
  for (size_t i = 0; i < LoginFailures::kMaxStatements + 5; ++i) {
    many += "[1] a@b LOG:  statement: ALTER TABLE t DROP x\n";
  }
  log.Append(many);
  auto r = tail.Poll();
  REQUIRE(r.ok());
  CHECK(r->statements.size() == LoginFailures::kMaxStatements);
  CHECK(r->statements_dropped == 5);
}

}  // namespace
}  // namespace pgwarden
