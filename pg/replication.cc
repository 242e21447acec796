#include "pg/replication.h"

#include <libpq-fe.h>
#include <poll.h>

#include <algorithm>
#include <cerrno>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "pg/connect.h"
#include "pg/session.h"

namespace pgwarden {
namespace pg {
namespace {

// Microseconds between the Unix epoch and PostgreSQL's (2000-01-01).
constexpr int64_t kPgEpochMicros = 946684800LL * 1000000;

std::string Trimmed(const char* text) {
  return std::string(absl::StripAsciiWhitespace(text == nullptr ? "" : text));
}

// ReplicationCode picks the canonical code for a replication-protocol error
// (55xxx, e.g. a slot in use, is a failed precondition here).
absl::StatusCode ReplicationCode(const std::string& state) {
  if (state.empty() || absl::StartsWith(state, "08") || absl::StartsWith(state, "57P")) {
    return absl::StatusCode::kUnavailable;
  }
  if (state == "42704") return absl::StatusCode::kNotFound;
  if (state == "42501") return absl::StatusCode::kPermissionDenied;
  if (absl::StartsWith(state, "55")) return absl::StatusCode::kFailedPrecondition;
  if (absl::StartsWith(state, "22") || absl::StartsWith(state, "42")) {
    return absl::StatusCode::kInvalidArgument;
  }
  return absl::StatusCode::kInternal;
}

// ResultError turns a failed PGresult (or the connection's error when there
// is none) into a Status carrying the SQLSTATE.
absl::Status ResultError(PGconn* conn, const PGresult* res, absl::string_view what) {
  std::string state;
  std::string message;
  if (res != nullptr) {
    state = Trimmed(PQresultErrorField(res, PG_DIAG_SQLSTATE));
    message = Trimmed(PQresultErrorMessage(res));
  }
  if (message.empty()) message = Trimmed(PQerrorMessage(conn));
  absl::Status s(ReplicationCode(state), absl::StrCat(what, ": ", message));
  if (!state.empty()) s.SetPayload(kSqlStatePayload, absl::Cord(state));
  return s;
}

void PutInt64(std::string* out, uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) {
    out->push_back(static_cast<char>((v >> shift) & 0xff));
  }
}

uint64_t GetInt64(const char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

std::string QuoteIdent(absl::string_view name) {
  return absl::StrCat("\"", absl::StrReplaceAll(name, {{"\"", "\"\""}}), "\"");
}

std::string QuoteLiteral(absl::string_view value) {
  return absl::StrCat("'", absl::StrReplaceAll(value, {{"'", "''"}}), "'");
}

// WaitSocket waits until the socket is readable (or writable) or `timeout`
// passes; false on a poll error other than EINTR.
bool WaitSocket(int fd, bool for_write, absl::Duration timeout) {
  pollfd p{};
  p.fd = fd;
  p.events = for_write ? POLLOUT : POLLIN;
  const int ms = static_cast<int>(std::max<int64_t>(0, absl::ToInt64Milliseconds(timeout)));
  const int rc = poll(&p, 1, ms);
  return rc >= 0 || errno == EINTR;
}

}  // namespace

struct ReplicationConnection::Impl {
  PGconn* conn = nullptr;
  std::string redacted_dsn;
  ~Impl() {
    if (conn != nullptr) PQfinish(conn);
  }
};

ReplicationConnection::ReplicationConnection(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ReplicationConnection::~ReplicationConnection() = default;

absl::StatusOr<std::unique_ptr<ReplicationConnection>> ReplicationConnection::Connect(
    const std::string& dsn, absl::Duration timeout, const std::function<bool()>& cancelled) {
  ConnectOptions options;
  options.application_name = "pgwarden-stream";
  options.connect_timeout = timeout;
  const std::string conninfo = ConnectionString(dsn, options);
  // The whole DSN is expanded as dbname; replication=database comes after
  // it and wins over any replication setting in the DSN.
  const char* keys[] = {"dbname", "replication", nullptr};
  const char* values[] = {conninfo.c_str(), "database", nullptr};
  auto impl = std::make_unique<Impl>();
  impl->redacted_dsn = RedactDsn(dsn);
  impl->conn = PQconnectStartParams(keys, values, 1);
  if (impl->conn == nullptr) return absl::ResourceExhaustedError("libpq: out of memory");
  const absl::Time deadline = absl::Now() + std::max(timeout, absl::Seconds(1));
  PostgresPollingStatusType st = PGRES_POLLING_WRITING;
  while (st != PGRES_POLLING_OK && st != PGRES_POLLING_FAILED) {
    if (PQstatus(impl->conn) == CONNECTION_BAD) break;
    if (cancelled && cancelled()) return absl::CancelledError("connection cancelled");
    if (absl::Now() >= deadline) {
      return absl::DeadlineExceededError(
          absl::StrCat("cannot connect to ", impl->redacted_dsn, ": timed out"));
    }
    WaitSocket(PQsocket(impl->conn), st == PGRES_POLLING_WRITING, absl::Milliseconds(100));
    st = PQconnectPoll(impl->conn);
  }
  if (PQstatus(impl->conn) != CONNECTION_OK) {
    return absl::UnavailableError(absl::StrCat("cannot connect to ", impl->redacted_dsn, ": ",
                                               Trimmed(PQerrorMessage(impl->conn))));
  }
  return std::unique_ptr<ReplicationConnection>(new ReplicationConnection(std::move(impl)));
}

absl::StatusOr<SystemIdentity> ReplicationConnection::IdentifySystem() {
  PGresult* res = PQexec(impl_->conn, "IDENTIFY_SYSTEM");
  if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1 || PQnfields(res) < 4) {
    absl::Status s = ResultError(impl_->conn, res, "IDENTIFY_SYSTEM failed");
    PQclear(res);
    return s;
  }
  SystemIdentity id;
  id.system_id = PQgetvalue(res, 0, 0);
  id.timeline = std::strtoll(PQgetvalue(res, 0, 1), nullptr, 10);
  const std::string pos = PQgetvalue(res, 0, 2);
  uint32_t hi = 0;
  uint32_t lo = 0;
  if (std::sscanf(pos.c_str(), "%X/%X", &hi, &lo) == 2) {
    id.xlog_pos = (static_cast<uint64_t>(hi) << 32) | lo;
  }
  if (!PQgetisnull(res, 0, 3)) id.dbname = PQgetvalue(res, 0, 3);
  PQclear(res);
  return id;
}

absl::Status ReplicationConnection::StartLogical(
    const std::string& slot, uint64_t start_lsn,
    const std::vector<std::pair<std::string, std::string>>& options) {
  std::string sql =
      absl::StrCat("START_REPLICATION SLOT ", QuoteIdent(slot), " LOGICAL ",
                   absl::Hex(start_lsn >> 32), "/", absl::Hex(start_lsn & 0xffffffffULL));
  for (size_t i = 0; i < options.size(); ++i) {
    absl::StrAppend(&sql, i == 0 ? " (" : ", ", QuoteIdent(options[i].first), " ",
                    QuoteLiteral(options[i].second));
  }
  if (!options.empty()) sql += ")";
  PGresult* res = PQexec(impl_->conn, sql.c_str());
  if (PQresultStatus(res) != PGRES_COPY_BOTH) {
    absl::Status s =
        ResultError(impl_->conn, res, absl::StrCat("START_REPLICATION of slot ", slot));
    PQclear(res);
    return s;
  }
  PQclear(res);
  if (PQsetnonblocking(impl_->conn, 1) != 0) {
    return absl::InternalError(
        absl::StrCat("cannot make the connection non-blocking: ", PQerrorMessage(impl_->conn)));
  }
  return absl::OkStatus();
}

absl::StatusOr<ReplicationMessage> ReplicationConnection::Poll(absl::Duration timeout) {
  PGconn* conn = impl_->conn;
  bool waited = false;
  while (true) {
    char* buf = nullptr;
    const int n = PQgetCopyData(conn, &buf, 1);
    if (n > 0) {
      ReplicationMessage m;
      const char type = buf[0];
      if (type == 'w' && n >= 25) {
        m.kind = ReplicationMessage::Kind::kXLogData;
        m.wal_start = GetInt64(buf + 1);
        m.wal_end = GetInt64(buf + 9);
        m.data.assign(buf + 25, static_cast<size_t>(n - 25));
      } else if (type == 'k' && n >= 18) {
        m.kind = ReplicationMessage::Kind::kKeepalive;
        m.wal_end = GetInt64(buf + 1);
        m.reply_requested = buf[17] != 0;
      } else {
        PQfreemem(buf);
        return absl::DataLossError(absl::StrCat("unexpected replication message of type '",
                                                std::string(1, type), "' and ", n, " bytes"));
      }
      PQfreemem(buf);
      return m;
    }
    if (n == 0) {
      if (waited) return ReplicationMessage{};
      WaitSocket(PQsocket(conn), false, timeout);
      waited = true;
      if (PQconsumeInput(conn) == 0) {
        return absl::UnavailableError(
            absl::StrCat("replication connection lost: ", Trimmed(PQerrorMessage(conn))));
      }
      continue;
    }
    if (n == -1) {  // the server ended the copy: its result says why
      PGresult* res = PQgetResult(conn);
      absl::Status s = PQresultStatus(res) == PGRES_COMMAND_OK
                           ? absl::UnavailableError("replication stream ended by the server")
                           : ResultError(conn, res, "replication stream ended");
      PQclear(res);
      return s;
    }
    return absl::UnavailableError(
        absl::StrCat("replication connection lost: ", Trimmed(PQerrorMessage(conn))));
  }
}

absl::Status ReplicationConnection::SendStatus(uint64_t write, uint64_t flush, uint64_t apply,
                                               bool reply) {
  std::string msg = "r";
  PutInt64(&msg, write);
  PutInt64(&msg, flush);
  PutInt64(&msg, apply);
  PutInt64(&msg, static_cast<uint64_t>(absl::ToUnixMicros(absl::Now()) - kPgEpochMicros));
  msg.push_back(reply ? 1 : 0);
  PGconn* conn = impl_->conn;
  if (PQputCopyData(conn, msg.data(), static_cast<int>(msg.size())) <= 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot send a status update: ", Trimmed(PQerrorMessage(conn))));
  }
  // Non-blocking: flush until done, bounded.
  for (int i = 0; i < 50; ++i) {
    const int rc = PQflush(conn);
    if (rc == 0) return absl::OkStatus();
    if (rc < 0) break;
    WaitSocket(PQsocket(conn), true, absl::Milliseconds(100));
  }
  return absl::UnavailableError(
      absl::StrCat("cannot flush a status update: ", Trimmed(PQerrorMessage(conn))));
}

int ReplicationConnection::BackendPid() const { return PQbackendPID(impl_->conn); }

}  // namespace pg
}  // namespace pgwarden
