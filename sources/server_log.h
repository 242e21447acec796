#ifndef PGWARDEN_SOURCES_SERVER_LOG_H_
#define PGWARDEN_SOURCES_SERVER_LOG_H_

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "sources/logged_statement.h"

namespace pgwarden {

// LoginFailure is one failed connection attempt read from the server log.
struct LoginFailure {
  // reason: "password" (28P01), "no_hba_entry", "hba_reject", "no_such_role",
  // "no_such_database".
  std::string reason;
  std::string user;  // "" when the line does not name it
};

// ParseLoginFailure recognises a failed login in one server log line, in the
// stderr format (any log_line_prefix, with or without the SQLSTATE of
// log_error_verbosity = verbose) or the csvlog format. Messages must be in
// English (lc_messages = 'C' or 'en_US...', the packaged default).
bool ParseLoginFailure(absl::string_view line, LoginFailure* out);

// LoginFailures counts what one poll of the log found.
struct LoginFailures {
  int64_t total = 0;
  std::map<std::string, int64_t> by_reason;
  // by_user keeps at most kMaxUsers names; the rest count under "(other)".
  std::map<std::string, int64_t> by_user;
  int64_t lines = 0;  // lines read
  bool rotated = false;
  static constexpr size_t kMaxUsers = 50;
  // statements: the ALTER and DROP statements that log_statement (ddl or
  // all) logged, at most kMaxStatements per poll (the rest are counted in
  // statements_dropped).
  std::vector<LoggedStatement> statements;
  int64_t statements_dropped = 0;
  static constexpr size_t kMaxStatements = 200;
};

// ServerLogTailOptions bound the work of one poll.
struct ServerLogTailOptions {
  // At most this many bytes are read per poll; the rest waits for the next.
  size_t max_bytes_per_poll = 8 << 20;
  // A line longer than this is skipped (counted, never parsed whole).
  size_t max_line_bytes = 64 << 10;
  // Start at the end of the file (history is not replayed) unless false.
  bool start_at_end = true;
};

// ServerLogTail follows a PostgreSQL server log file like `tail -F`: it
// reads only complete new lines, and when the file is rotated (a new inode at
// the path, or the file shrank) it starts the new file from its beginning.
// Not thread-safe.
class ServerLogTail {
 public:
  explicit ServerLogTail(std::string path, ServerLogTailOptions options = {});
  ~ServerLogTail();
  ServerLogTail(const ServerLogTail&) = delete;
  ServerLogTail& operator=(const ServerLogTail&) = delete;

  // Poll reads what was appended since the last poll. An unreadable file is
  // an error naming the path (the next poll tries again).
  absl::StatusOr<LoginFailures> Poll();
  const std::string& path() const { return path_; }

 private:
  absl::Status Reopen(bool at_end);
  // HandleLine counts a failed login or keeps a logged statement (a line
  // starting with a tab continues the statement before it).
  void HandleLine(absl::string_view line, LoginFailures* out);
  void FlushStatement(LoginFailures* out);

  std::string path_;
  ServerLogTailOptions options_;
  int fd_ = -1;
  ino_t inode_ = 0;
  dev_t device_ = 0;
  off_t offset_ = 0;
  bool first_open_ = true;
  bool skipping_long_line_ = false;
  std::string partial_;  // an incomplete last line, kept for the next poll
  bool has_statement_ = false;
  LoggedStatement statement_;  // the logged statement being read
};

}  // namespace pgwarden

#endif  // PGWARDEN_SOURCES_SERVER_LOG_H_
