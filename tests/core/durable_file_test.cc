#include "core/durable_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "catch2/catch.hpp"
#include "tests/support/failing_fsync.h"

namespace pgwarden {
namespace {

using testing::FailingFsync;

// TempDir is a fresh directory removed at scope exit.
struct TempDir {
  TempDir() {
    char tmpl[] = "/tmp/pgw_durable_XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  std::string path;
};

// UmaskScope sets the process umask and restores it.
class UmaskScope {
 public:
  explicit UmaskScope(mode_t mask) : previous_(::umask(mask)) {}
  ~UmaskScope() { ::umask(previous_); }

 private:
  mode_t previous_;
};

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

mode_t ModeOf(const std::string& path) {
  struct stat st;
  REQUIRE(::stat(path.c_str(), &st) == 0);
  return st.st_mode & 07777;
}

// Names lists the entries of `dir`.
std::vector<std::string> Names(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    out.push_back(e.path().filename().string());
  }
  return out;
}

TEST_CASE("WriteFileDurably writes the contents with the mode, replacing the old file",
          "[core][durable_file]") {
  TempDir dir;
  UmaskScope umask(022);
  const std::string path = dir.path + "/state.json";
  REQUIRE(WriteFileDurably(path, "first\n", 0640).ok());
  CHECK(ReadAll(path) == "first\n");
  CHECK(ModeOf(path) == 0640);
  REQUIRE(WriteFileDurably(path, std::string("second\0line\n", 12), 0600).ok());
  CHECK(ReadAll(path) == std::string("second\0line\n", 12));
  CHECK(ModeOf(path) == 0600);
  // No temporary file is left behind.
  CHECK(Names(dir.path) == std::vector<std::string>{"state.json"});
}

TEST_CASE("WriteFileDurably applies the umask like open(2)", "[core][durable_file]") {
  TempDir dir;
  UmaskScope umask(027);
  const std::string path = dir.path + "/out.csv";
  REQUIRE(WriteFileDurably(path, "x", 0666).ok());
  CHECK(ModeOf(path) == 0640);
}

TEST_CASE("WriteFileDurably with a failing fsync reports the path and keeps the old file",
          "[core][durable_file]") {
  TempDir dir;
  const std::string path = dir.path + "/state.json";
  REQUIRE(WriteFileDurably(path, "old\n", 0600).ok());
  absl::Status s;
  {
    FailingFsync fail;
    s = WriteFileDurably(path, "new\n", 0600);
    CHECK(fail.calls() == 1);
  }
  INFO(s.ToString());
  REQUIRE_FALSE(s.ok());
  CHECK_THAT(std::string(s.message()), Catch::Contains(path));
  CHECK_THAT(std::string(s.message()), Catch::Contains("fdatasync"));
  CHECK_THAT(std::string(s.message()), Catch::Contains(std::strerror(EIO)));
  CHECK(ReadAll(path) == "old\n");
  CHECK(Names(dir.path) == std::vector<std::string>{"state.json"});
}

TEST_CASE("WriteFileDurably reports a failing fsync of the directory", "[core][durable_file]") {
  TempDir dir;
  const std::string path = dir.path + "/state.json";
  absl::Status s;
  {
    FailingFsync fail(/*after=*/1);  // the file's sync succeeds, the directory's fails
    s = WriteFileDurably(path, "new\n", 0600);
    CHECK(fail.calls() == 2);
  }
  INFO(s.ToString());
  REQUIRE_FALSE(s.ok());
  CHECK_THAT(std::string(s.message()), Catch::Contains("fsync directory " + dir.path + ":"));
  CHECK(ReadAll(path) == "new\n");  // renamed already, durability unknown
}

TEST_CASE("WriteFileDurably names the path when the directory is missing", "[core][durable_file]") {
  TempDir dir;
  const std::string path = dir.path + "/missing/state.json";
  absl::Status s = WriteFileDurably(path, "x", 0600);
  INFO(s.ToString());
  REQUIRE_FALSE(s.ok());
  CHECK(s.code() == absl::StatusCode::kNotFound);
  CHECK_THAT(std::string(s.message()), Catch::Contains(path));
  CHECK_THAT(std::string(s.message()), Catch::Contains(std::strerror(ENOENT)));
}

TEST_CASE("AppendDurably appends everything and syncs", "[core][durable_file]") {
  TempDir dir;
  const std::string path = dir.path + "/log";
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  REQUIRE(fd >= 0);
  int calls = 0;
  internal::FsyncFunction previous = internal::SetFsyncForTesting([&calls](int f) {
    ++calls;
    return ::fdatasync(f);
  });
  CHECK(AppendDurably(fd, "a\n", path).ok());
  CHECK(AppendDurably(fd, std::string(100000, 'b'), path).ok());
  internal::SetFsyncForTesting(previous);
  ::close(fd);
  CHECK(calls == 2);
  CHECK(ReadAll(path) == "a\n" + std::string(100000, 'b'));
}

TEST_CASE("AppendDurably with a failing fsync reports the path", "[core][durable_file]") {
  TempDir dir;
  const std::string path = dir.path + "/log";
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  REQUIRE(fd >= 0);
  absl::Status s;
  {
    FailingFsync fail;
    s = AppendDurably(fd, "line\n", path);
    CHECK(fail.calls() == 1);
  }
  ::close(fd);
  INFO(s.ToString());
  REQUIRE_FALSE(s.ok());
  CHECK_THAT(std::string(s.message()), Catch::Contains("fdatasync " + path + ": "));
  CHECK_THAT(std::string(s.message()), Catch::Contains(std::strerror(EIO)));
}

TEST_CASE("AppendDurably reports a failing write with the path", "[core][durable_file]") {
  TempDir dir;
  const std::string path = dir.path + "/log";
  const int fd = ::open(path.c_str(), O_RDONLY | O_CREAT | O_CLOEXEC, 0600);  // not writable
  REQUIRE(fd >= 0);
  absl::Status s = AppendDurably(fd, "line\n", path);
  ::close(fd);
  INFO(s.ToString());
  REQUIRE_FALSE(s.ok());
  CHECK_THAT(std::string(s.message()), Catch::Contains("write " + path + ": "));
}

TEST_CASE("SetFsyncForTesting returns the previous function and an empty one restores",
          "[core][durable_file]") {
  internal::FsyncFunction none = internal::SetFsyncForTesting([](int) { return 0; });
  CHECK_FALSE(none);
  internal::FsyncFunction mine = internal::SetFsyncForTesting(nullptr);
  CHECK(mine);
  CHECK_FALSE(internal::SetFsyncForTesting(nullptr));
}

}  // namespace
}  // namespace pgwarden
