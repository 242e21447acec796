#ifndef PGWARDEN_PG_REPLICATION_H_
#define PGWARDEN_PG_REPLICATION_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace pgwarden {
namespace pg {

// SystemIdentity is the answer to IDENTIFY_SYSTEM.
struct SystemIdentity {
  std::string system_id;
  int64_t timeline = 0;
  uint64_t xlog_pos = 0;
  std::string dbname;
};

// ReplicationMessage is one message of the replication stream.
struct ReplicationMessage {
  enum class Kind {
    kNone,       // nothing arrived within the poll's timeout
    kXLogData,   // 'w': decoded output
    kKeepalive,  // 'k': the server's position; may ask for a reply
  };
  Kind kind = Kind::kNone;
  // wal_start: the LSN the data belongs to (XLogData only).
  uint64_t wal_start = 0;
  // wal_end: the server's current end of WAL.
  uint64_t wal_end = 0;
  // reply_requested: a keepalive asking for a status update now.
  bool reply_requested = false;
  std::string data;
};

// ReplicationConnection is a logical replication connection (libpq with
// replication=database), speaking the streaming replication protocol that
// libpqxx does not. Errors are absl::Status with the server's message and,
// when the server sent one, the SQLSTATE payload (pg::SqlState); the DSN is
// redacted in them. Not thread-safe.
class ReplicationConnection {
 public:
  // Connect opens the connection, giving up after `timeout` or as soon as
  // `cancelled` (optional, polled every ~100 ms) returns true.
  static absl::StatusOr<std::unique_ptr<ReplicationConnection>> Connect(
      const std::string& dsn, absl::Duration timeout,
      const std::function<bool()>& cancelled = nullptr);
  ~ReplicationConnection();
  ReplicationConnection(const ReplicationConnection&) = delete;
  ReplicationConnection& operator=(const ReplicationConnection&) = delete;

  // IdentifySystem runs IDENTIFY_SYSTEM.
  absl::StatusOr<SystemIdentity> IdentifySystem();

  // StartLogical runs START_REPLICATION SLOT `slot` LOGICAL `start_lsn`
  // with the plugin options (name, value) and enters streaming.
  absl::Status StartLogical(const std::string& slot, uint64_t start_lsn,
                            const std::vector<std::pair<std::string, std::string>>& options);

  // Poll returns the next message, waiting at most `timeout` (kind kNone
  // when nothing came). The end of the stream or a lost connection is an
  // error (Unavailable, or the server's error).
  absl::StatusOr<ReplicationMessage> Poll(absl::Duration timeout);

  // SendStatus sends a standby status update: written, flushed and applied
  // positions; `reply` asks the server to answer with a keepalive.
  absl::Status SendStatus(uint64_t write, uint64_t flush, uint64_t apply, bool reply = false);

  // BackendPid is the walsender's process id.
  int BackendPid() const;

 private:
  struct Impl;
  explicit ReplicationConnection(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace pg
}  // namespace pgwarden

#endif  // PGWARDEN_PG_REPLICATION_H_
