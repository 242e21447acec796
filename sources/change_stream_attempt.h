#ifndef PGWARDEN_SOURCES_CHANGE_STREAM_ATTEMPT_H_
#define PGWARDEN_SOURCES_CHANGE_STREAM_ATTEMPT_H_

// Private to change_stream.cc and change_stream_attempt.cc.

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "pg/replication.h"
#include "pg/session.h"
#include "sources/change_stream.h"
#include "sources/slot_tools.h"
#include "sources/test_decoding.h"

namespace pgwarden {

// ChangeStream::Attempt is one connection's life: the checks on a normal
// session, the slot (created or recreated), then streaming until Stop, an
// error or a simulated crash.
class ChangeStream::Attempt {
 public:
  explicit Attempt(ChangeStream* stream);

  // Run returns OK when stopped, else why the attempt ended.
  absl::Status Run();
  // refused: the prerequisites are not met (status says why); retried slowly.
  bool refused() const { return refused_; }
  // streamed: START_REPLICATION succeeded (the backoff starts again at 1 s).
  bool streamed() const { return streamed_; }

 private:
  absl::Status Refuse(const std::string& why);
  absl::Status Prepare();
  absl::Status CreateOrRecreate(const SlotReport& report);
  absl::Status Stream();
  absl::Status Step(const pg::ReplicationMessage& m);
  // Journal keeps a decoded DELETE's old row, and syncs at its commit.
  void Journal(const pg::ReplicationMessage& m, const FeedResult& r);
  // Confirm persists what was accounted, then confirms it to the server.
  absl::Status Confirm();
  void RefreshSlot();

  ChangeStream* const s_;
  const ChangeStreamOptions& o_;
  std::unique_ptr<pg::Session> sql_;
  std::unique_ptr<pg::ReplicationConnection> repl_;
  TxnAssembler txns_;
  bool refused_ = false;
  bool streamed_ = false;
  // idle_pos_: the last keepalive's wal_end seen outside a transaction.
  uint64_t idle_pos_ = 0;
  uint64_t server_end_ = 0;
  int64_t journal_rows_ = 0;  // of the open transaction
  uint64_t confirmed_ = 0;
  absl::Time last_status_ = absl::InfinitePast();
  absl::Time last_refresh_ = absl::InfinitePast();
};

}  // namespace pgwarden

#endif  // PGWARDEN_SOURCES_CHANGE_STREAM_ATTEMPT_H_
