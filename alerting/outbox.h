#ifndef PGWARDEN_ALERTING_OUTBOX_H_
#define PGWARDEN_ALERTING_OUTBOX_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "alerting/alert.h"

namespace pgwarden {

// OutboxEntry is one alert to deliver to one sink.
struct OutboxEntry {
  // id is unique and increasing within an outbox file, across restarts.
  uint64_t id = 0;
  std::string sink;
  Alert alert;
  absl::Time enqueued;
  // DeliveryId is "<id>-<enqueued unix ns>", unique per entry across outbox
  // files; the same on every retry (sent as X-Pgwarden-Delivery).
  std::string DeliveryId() const;
};

// Outbox is the durable, append-only record of alerts not yet accepted by
// their receiver. File format, one record per line, each ending in '\n':
//
//   P {"id":N,"sink":"...","enqueued":"RFC3339","alert":{AlertToJson}}
//   D N
//
// P adds a pending entry, D tombstones it (delivered, rejected or dropped).
// Appends are fdatasync'ed (AppendDurably) before Append/MarkDone return. A
// last line without its '\n' (a torn write) and unreadable lines are skipped
// with a warning. The file is rewritten (WriteFileDurably: temp file, fsync,
// rename, fsync of the directory) at Open and whenever tombstones outnumber
// live entries (and exceed 1024).
// Only one process may hold the file (flock).
class Outbox {
 public:
  // Open opens or creates `path` and returns the pending entries, oldest first.
  static absl::StatusOr<std::unique_ptr<Outbox>> Open(const std::string& path,
                                                      std::vector<OutboxEntry>* pending);
  ~Outbox();
  Outbox(const Outbox&) = delete;
  Outbox& operator=(const Outbox&) = delete;

  // Append assigns ids to `entries` and makes them durable.
  absl::Status Append(std::vector<OutboxEntry>* entries);
  // MarkDone tombstones entry `id` (no-op if it is not live).
  absl::Status MarkDone(uint64_t id);
  // live is the number of entries not yet tombstoned.
  size_t live() const;
  const std::string& path() const { return path_; }

 private:
  Outbox(std::string path, int fd, uint64_t next_id, std::map<uint64_t, std::string> live);
  // CompactLocked rewrites the file with the live entries only and reopens it.
  absl::Status CompactLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // WriteLocked appends `data` and syncs it.
  absl::Status WriteLocked(const std::string& data) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::string path_;
  mutable absl::Mutex mu_;
  int fd_ ABSL_GUARDED_BY(mu_);
  // lock_fd_ holds the flock; set once by Open before the outbox is shared.
  int lock_fd_ = -1;
  uint64_t next_id_ ABSL_GUARDED_BY(mu_);
  // live_ maps id -> its "P ..." line (with '\n').
  std::map<uint64_t, std::string> live_ ABSL_GUARDED_BY(mu_);
  size_t tombstones_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace pgwarden

#endif  // PGWARDEN_ALERTING_OUTBOX_H_
