#include "alerting/outbox.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include "absl/strings/match.h"
#include "catch2/catch.hpp"
#include "core/durable_file.h"
#include "tests/support/failing_fsync.h"

namespace pgwarden {
namespace {

// TempDir is a fresh directory removed at scope exit.
struct TempDir {
  TempDir() {
    char tmpl[] = "/tmp/pgw_outbox_XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  std::string path;
};

OutboxEntry Entry(const std::string& sink, const std::string& key, AlertAction action) {
  OutboxEntry e;
  e.sink = sink;
  e.alert.dedup_key = key;
  e.alert.action = action;
  e.alert.summary = "summary of " + key;
  e.alert.timestamp = absl::FromUnixSeconds(1700000000);
  e.enqueued = absl::FromUnixSeconds(1700000001);
  return e;
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST_CASE("outbox keeps pending entries across reopen, in order, without delivered ones",
          "[alerting][outbox]") {
  TempDir dir;
  const std::string path = dir.path + "/outbox.log";
  std::vector<OutboxEntry> pending;
  uint64_t last_id = 0;
  {
    auto box = Outbox::Open(path, &pending);
    REQUIRE(box.ok());
    CHECK(pending.empty());
    std::vector<OutboxEntry> batch = {Entry("pd", "k1", AlertAction::kTrigger),
                                      Entry("pd", "k2", AlertAction::kTrigger),
                                      Entry("pd", "k1", AlertAction::kResolve)};
    REQUIRE((*box)->Append(&batch).ok());
    CHECK(batch[0].id < batch[1].id);
    CHECK(batch[1].id < batch[2].id);
    REQUIRE((*box)->MarkDone(batch[1].id).ok());
    CHECK((*box)->live() == 2);
    last_id = batch[2].id;
  }  // closed without compaction: like a crash after the last fsync
  auto box = Outbox::Open(path, &pending);
  REQUIRE(box.ok());
  REQUIRE(pending.size() == 2);
  CHECK(pending[0].alert.dedup_key == "k1");
  CHECK(pending[0].alert.action == AlertAction::kTrigger);
  CHECK(pending[1].alert.dedup_key == "k1");
  CHECK(pending[1].alert.action == AlertAction::kResolve);
  CHECK(pending[0].sink == "pd");
  CHECK(pending[0].enqueued == absl::FromUnixSeconds(1700000001));
  // New ids continue after the old ones, so delivery ids never repeat.
  std::vector<OutboxEntry> more = {Entry("pd", "k3", AlertAction::kTrigger)};
  REQUIRE((*box)->Append(&more).ok());
  CHECK(more[0].id > last_id);
}

TEST_CASE("outbox ignores a torn last line and unreadable lines", "[alerting][outbox]") {
  TempDir dir;
  const std::string path = dir.path + "/outbox.log";
  std::vector<OutboxEntry> pending;
  {
    auto box = Outbox::Open(path, &pending);
    REQUIRE(box.ok());
    std::vector<OutboxEntry> batch = {Entry("pd", "k1", AlertAction::kTrigger),
                                      Entry("pd", "k2", AlertAction::kTrigger)};
    REQUIRE((*box)->Append(&batch).ok());
  }
  {
    std::ofstream out(path, std::ios::app);
    out << "garbage line\n";
    out << "D 1";  // torn tombstone of k1 (no newline): must not count
  }
  auto box = Outbox::Open(path, &pending);
  REQUIRE(box.ok());
  REQUIRE(pending.size() == 2);
  CHECK(pending[0].alert.dedup_key == "k1");
  // The file was rewritten without the junk.
  const std::string content = ReadAll(path);
  CHECK(!absl::StrContains(content, "garbage"));
  CHECK(!absl::StrContains(content, "D 1"));
}

TEST_CASE("outbox is held by one process at a time", "[alerting][outbox]") {
  TempDir dir;
  const std::string path = dir.path + "/outbox.log";
  std::vector<OutboxEntry> pending;
  auto first = Outbox::Open(path, &pending);
  REQUIRE(first.ok());
  auto second = Outbox::Open(path, &pending);
  CHECK(second.status().code() == absl::StatusCode::kFailedPrecondition);
  first->reset();
  auto third = Outbox::Open(path, &pending);
  CHECK(third.ok());
}

TEST_CASE("outbox compacts tombstones and keeps live entries", "[alerting][outbox]") {
  TempDir dir;
  const std::string path = dir.path + "/outbox.log";
  std::vector<OutboxEntry> pending;
  auto box = Outbox::Open(path, &pending);
  REQUIRE(box.ok());
  std::vector<OutboxEntry> keep = {Entry("pd", "keep-me", AlertAction::kTrigger)};
  REQUIRE((*box)->Append(&keep).ok());
  for (int i = 0; i < 1500; ++i) {
    std::vector<OutboxEntry> one = {Entry("pd", "k" + std::to_string(i), AlertAction::kTrigger)};
    REQUIRE((*box)->Append(&one).ok());
    REQUIRE((*box)->MarkDone(one[0].id).ok());
  }
  // Without compaction the file would hold ~1500 P lines and 1500 D lines.
  const std::string content = ReadAll(path);
  size_t lines = 0;
  for (char c : content) lines += c == '\n';
  CHECK(lines < 1100);
  CHECK(absl::StrContains(content, "keep-me"));
  box->reset();
  auto again = Outbox::Open(path, &pending);
  REQUIRE(again.ok());
  REQUIRE(pending.size() == 1);
  CHECK(pending[0].alert.dedup_key == "keep-me");
}

TEST_CASE("outbox reports a failing fsync from Append, MarkDone and the compaction at Open",
          "[alerting][outbox]") {
  TempDir dir;
  const std::string path = dir.path + "/outbox.log";
  std::vector<OutboxEntry> pending;
  auto box = Outbox::Open(path, &pending);
  REQUIRE(box.ok());
  std::vector<OutboxEntry> first = {Entry("pd", "k1", AlertAction::kTrigger)};
  REQUIRE((*box)->Append(&first).ok());

  auto fail = std::make_unique<testing::FailingFsync>();
  std::vector<OutboxEntry> second = {Entry("pd", "k2", AlertAction::kTrigger)};
  absl::Status append = (*box)->Append(&second);
  absl::Status done = (*box)->MarkDone(first[0].id);
  box->reset();
  auto reopened = Outbox::Open(path, &pending);  // compacts the non-empty file
  fail.reset();

  INFO(append.ToString() << "\n" << done.ToString());
  CHECK_FALSE(append.ok());
  CHECK_THAT(std::string(append.message()), Catch::Contains("fdatasync " + path + ": "));
  CHECK_FALSE(done.ok());
  CHECK_THAT(std::string(done.message()), Catch::Contains(path));
  REQUIRE_FALSE(reopened.ok());
  CHECK_THAT(std::string(reopened.status().message()), Catch::Contains(path));
}

}  // namespace
}  // namespace pgwarden
