#include "sources/server_log.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace pgwarden {
namespace {

// Severity and field labels that may open the message part of a stderr line.
constexpr absl::string_view kLabels[] = {"LOG:  ",    "ERROR:  ",   "WARNING:  ", "STATEMENT:  ",
                                         "DETAIL:  ", "CONTEXT:  ", "HINT:  ",    "PANIC:  "};

// MessageOf returns the message of a FATAL line: for csvlog the unescaped
// message field after ",FATAL,<sqlstate>,"; for stderr the text after the
// first "FATAL:  " (and an optional "SQLSTATE: "), provided no other label
// comes before it (a statement echoed by LOG is not a failure).
bool MessageOf(absl::string_view line, std::string* message) {
  const size_t csv = line.find(",FATAL,");
  if (csv != absl::string_view::npos) {
    absl::string_view rest = line.substr(csv + 7);
    const size_t comma = rest.find(',');
    if (comma == 5 && rest.size() > 6 && rest[6] == '"') {
      rest.remove_prefix(7);
      message->clear();
      for (size_t i = 0; i < rest.size(); ++i) {
        if (rest[i] != '"') {
          message->push_back(rest[i]);
        } else if (i + 1 < rest.size() && rest[i + 1] == '"') {
          message->push_back('"');
          ++i;
        } else {
          return true;
        }
      }
      return true;  // message continues on the next physical line
    }
  }
  const size_t fatal = line.find("FATAL:  ");
  if (fatal == absl::string_view::npos) return false;
  for (absl::string_view label : kLabels) {
    if (absl::StrContains(line.substr(0, fatal), label)) return false;
  }
  absl::string_view msg = line.substr(fatal + 8);
  // log_error_verbosity = verbose puts the SQLSTATE first.
  if (msg.size() > 7 && msg[5] == ':' && msg[6] == ' ') {
    bool code = true;
    for (size_t i = 0; i < 5; ++i)
      code = code && (absl::ascii_isdigit(msg[i]) || absl::ascii_isupper(msg[i]));
    if (code) msg.remove_prefix(7);
  }
  *message = std::string(absl::StripTrailingAsciiWhitespace(msg));
  return true;
}

// Between returns what lies between `open` and the last occurrence of
// `close` after it (names may contain quotes; PostgreSQL does not escape
// them in these messages).
std::string Between(absl::string_view s, absl::string_view open, absl::string_view close) {
  const size_t a = s.find(open);
  if (a == absl::string_view::npos) return "";
  absl::string_view rest = s.substr(a + open.size());
  const size_t b = rest.rfind(close);
  if (b == absl::string_view::npos) return "";
  return std::string(rest.substr(0, b));
}

}  // namespace

bool ParseLoginFailure(absl::string_view line, LoginFailure* out) {
  std::string msg;
  if (!MessageOf(line, &msg)) return false;
  if (absl::StartsWith(msg, "password authentication failed for user \"")) {
    out->reason = "password";
    out->user = Between(msg, "for user \"", "\"");
    return true;
  }
  if (absl::StrContains(msg, " authentication failed for user \"")) {
    out->reason = "authentication";  // ident, peer, ldap, cert, ...
    out->user = Between(msg, "for user \"", "\"");
    return true;
  }
  if (absl::StartsWith(msg, "no pg_hba.conf entry for ")) {
    out->reason = "no_hba_entry";
    out->user = Between(msg, "user \"", "\", database \"");
    return true;
  }
  if (absl::StartsWith(msg, "pg_hba.conf rejects ")) {
    out->reason = "hba_reject";
    out->user = Between(msg, "user \"", "\", database \"");
    return true;
  }
  if (absl::StartsWith(msg, "role \"") && absl::EndsWith(msg, "\" does not exist")) {
    out->reason = "no_such_role";
    out->user = Between(msg, "role \"", "\" does not exist");
    return true;
  }
  if (absl::StartsWith(msg, "database \"") && absl::EndsWith(msg, "\" does not exist")) {
    out->reason = "no_such_database";
    out->user.clear();
    return true;
  }
  return false;
}

ServerLogTail::ServerLogTail(std::string path, ServerLogTailOptions options)
    : path_(std::move(path)), options_(options) {}

ServerLogTail::~ServerLogTail() {
  if (fd_ >= 0) close(fd_);
}

absl::Status ServerLogTail::Reopen(bool at_end) {
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
  partial_.clear();
  skipping_long_line_ = false;
  const int fd = open(path_.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return absl::UnavailableError(
        absl::StrCat("server log ", path_, ": cannot open: ", std::strerror(errno)));
  }
  struct stat st;
  if (fstat(fd, &st) != 0) {
    close(fd);
    return absl::UnavailableError(absl::StrCat("server log ", path_, ": ", std::strerror(errno)));
  }
  fd_ = fd;
  inode_ = st.st_ino;
  device_ = st.st_dev;
  offset_ = at_end ? st.st_size : 0;
  return absl::OkStatus();
}

absl::StatusOr<LoginFailures> ServerLogTail::Poll() {
  LoginFailures out;
  if (fd_ < 0) {
    absl::Status s = Reopen(first_open_ && options_.start_at_end);
    if (!s.ok()) return s;
    first_open_ = false;
  }
  // Rotated (another file at the path now) or truncated: read the new file
  // from its start, after draining nothing more from the old one.
  struct stat at_path;
  struct stat open_file;
  if (stat(path_.c_str(), &at_path) == 0 &&
      (at_path.st_ino != inode_ || at_path.st_dev != device_)) {
    if (absl::Status s = Reopen(false); !s.ok()) return s;
    out.rotated = true;
  } else if (fstat(fd_, &open_file) == 0 && open_file.st_size < offset_) {
    if (absl::Status s = Reopen(false); !s.ok()) return s;
    out.rotated = true;
  }

  std::vector<char> buf(64 << 10);
  size_t budget = options_.max_bytes_per_poll;
  while (budget > 0) {
    const ssize_t n = pread(fd_, buf.data(), std::min(buf.size(), budget), offset_);
    if (n < 0) {
      if (errno == EINTR) continue;
      return absl::UnavailableError(
          absl::StrCat("server log ", path_, ": read: ", std::strerror(errno)));
    }
    if (n == 0) break;
    offset_ += n;
    budget -= static_cast<size_t>(n);
    absl::string_view chunk(buf.data(), static_cast<size_t>(n));
    while (!chunk.empty()) {
      const size_t nl = chunk.find('\n');
      absl::string_view piece = chunk.substr(0, nl);
      if (!skipping_long_line_) {
        if (partial_.size() + piece.size() > options_.max_line_bytes) {
          skipping_long_line_ = true;
          partial_.clear();
        } else {
          partial_.append(piece.data(), piece.size());
        }
      }
      if (nl == absl::string_view::npos) break;  // incomplete: wait for the rest
      chunk.remove_prefix(nl + 1);
      ++out.lines;
      if (!skipping_long_line_) HandleLine(partial_, &out);
      partial_.clear();
      skipping_long_line_ = false;
    }
  }
  // PostgreSQL writes a message's lines in one write: what was read ends it.
  FlushStatement(&out);
  return out;
}

void ServerLogTail::HandleLine(absl::string_view line, LoginFailures* out) {
  if (has_statement_ && absl::StartsWith(line, "\t")) {
    if (statement_.statement.size() < kMaxLoggedStatementBytes) {
      absl::StrAppend(&statement_.statement, "\n", line.substr(1));
    }
    return;
  }
  FlushStatement(out);
  LoginFailure f;
  if (ParseLoginFailure(line, &f)) {
    ++out->total;
    ++out->by_reason[f.reason];
    if (out->by_user.count(f.user) > 0 || out->by_user.size() < LoginFailures::kMaxUsers) {
      ++out->by_user[f.user];
    } else {
      ++out->by_user["(other)"];
    }
    return;
  }
  has_statement_ = ParseLoggedStatement(line, &statement_) && IsSchemaChange(statement_.statement);
}

void ServerLogTail::FlushStatement(LoginFailures* out) {
  if (!has_statement_) return;
  has_statement_ = false;
  if (out->statements.size() >= LoginFailures::kMaxStatements) {
    ++out->statements_dropped;
    return;
  }
  out->statements.push_back(std::move(statement_));
  statement_ = LoggedStatement{};
}

}  // namespace pgwarden
