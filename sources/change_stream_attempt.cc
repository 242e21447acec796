#include "sources/change_stream_attempt.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/log.h"
#include "pg/connect.h"
#include "sources/decoded_row.h"
#include "sources/table_changes.h"

namespace pgwarden {
namespace {

constexpr absl::Duration kPollTimeout = absl::Milliseconds(200);
constexpr absl::Duration kRefreshInterval = absl::Seconds(1);

const std::vector<std::pair<std::string, std::string>>& PluginOptions() {
  static const auto* options = new std::vector<std::pair<std::string, std::string>>{
      {"include-xids", "1"}, {"include-timestamp", "1"}, {"skip-empty-xacts", "1"}};
  return *options;
}

}  // namespace

ChangeStream::Attempt::Attempt(ChangeStream* stream)
    : s_(stream), o_(stream->options_), txns_(stream->options_.watched) {}

absl::Status ChangeStream::Attempt::Run() {
  s_->SetState("connecting", "");
  if (absl::Status p = Prepare(); !p.ok()) return p;
  return Stream();
}

absl::Status ChangeStream::Attempt::Refuse(const std::string& why) {
  refused_ = true;
  return absl::FailedPreconditionError(why);
}

absl::Status ChangeStream::Attempt::Prepare() {
  pg::ConnectOptions co;
  co.application_name = "pgwarden-stream";
  co.connect_timeout = o_.connect_timeout;
  co.statement_timeout = absl::Seconds(30);
  absl::StatusOr<std::unique_ptr<pg::Session>> conn = pg::Connect(o_.dsn, co);
  if (!conn.ok()) return conn.status();
  sql_ = std::move(*conn);
  absl::StatusOr<SlotReport> r = InspectSlot(*sql_, o_.slot);
  if (!r.ok()) return r.status();
  if (r->wal_level != "logical") {
    return Refuse(absl::StrCat("wal_level is '", r->wal_level,
                               "': the change stream needs wal_level = logical "
                               "(ALTER SYSTEM SET wal_level = logical, then restart the server)"));
  }
  if (!r->can_replicate) {
    return Refuse(absl::StrCat("role ", r->role,
                               " may not replicate: it needs REPLICATION (ALTER ROLE ", r->role,
                               " REPLICATION) or superuser"));
  }
  if (r->exists && (r->slot_type != "logical" || r->plugin != kSlotPlugin)) {
    return Refuse(absl::StrCat("replication slot \"", o_.slot, "\" exists but is a ", r->slot_type,
                               " slot with plugin '", r->plugin, "', not ", kSlotPlugin,
                               ": choose another change_stream.slot"));
  }
  if (r->exists && r->wal_status != "lost") {
    absl::MutexLock lock(&s_->mu_);
    s_->status_.wal_status = r->wal_status;
    s_->status_.retained_bytes = r->retained_bytes;
    return absl::OkStatus();
  }
  return CreateOrRecreate(*r);
}

absl::Status ChangeStream::Attempt::CreateOrRecreate(const SlotReport& r) {
  if (r.unbounded_retention && !o_.allow_unbounded_retention) {
    return Refuse(absl::StrCat(
        "refusing to create replication slot \"", o_.slot,
        "\": max_slot_wal_keep_size = -1, so a slot that is not read keeps WAL until the disk "
        "fills; set max_slot_wal_keep_size (e.g. ALTER SYSTEM SET max_slot_wal_keep_size = "
        "'10GB'; SELECT pg_reload_conf()) or allow it with "
        "change_stream.allow_unbounded_retention: true"));
  }
  const absl::Time now = o_.clock->Now();
  std::string gap;
  if (r.exists) {  // invalidated by the server
    absl::StatusOr<AuditRecord> dropped =
        DropSlot(*sql_, o_.slot, false, o_.audit_path, o_.target,
                 "change stream: slot invalidated (wal_status lost), recreating it", now);
    if (!dropped.ok()) return dropped.status();
    gap = absl::StrCat("replication slot \"", o_.slot,
                       "\" was invalidated by the server (wal_status lost: more WAL than "
                       "max_slot_wal_keep_size); changes after ",
                       FormatLsn(r.confirmed_flush_lsn), " were not seen");
  } else {
    absl::MutexLock lock(&s_->mu_);
    if (s_->persisted_lsn_ != 0) {
      gap = absl::StrCat("replication slot \"", o_.slot,
                         "\" had disappeared (dropped?); changes after ",
                         FormatLsn(s_->persisted_lsn_), " were not seen");
    }
  }
  absl::StatusOr<AuditRecord> created =
      CreateSlot(*sql_, o_.slot, o_.audit_path, o_.target,
                 r.exists ? "change stream: recreating the invalidated slot"
                          : "change stream: slot did not exist",
                 now);
  if (!created.ok()) return created.status();
  PGW_LOG(Info) << "change stream " << o_.target << ": created replication slot " << o_.slot
                << " (audit id " << created->id << ")";
  if (!gap.empty()) s_->AddGap(gap);
  return absl::OkStatus();
}

absl::Status ChangeStream::Attempt::Stream() {
  absl::StatusOr<std::unique_ptr<pg::ReplicationConnection>> repl =
      pg::ReplicationConnection::Connect(o_.dsn, o_.connect_timeout,
                                         [this] { return s_->stop_.HasBeenNotified(); });
  if (!repl.ok()) return repl.status();
  repl_ = std::move(*repl);
  absl::StatusOr<pg::SystemIdentity> id = repl_->IdentifySystem();
  if (!id.ok()) return id.status();
  {
    absl::MutexLock lock(&s_->mu_);
    if (!s_->system_id_.empty() && s_->system_id_ != id->system_id) {
      PGW_LOG(Warning) << "change stream " << o_.target << ": the server's system identifier "
                       << id->system_id << " is not the one of the saved position ("
                       << s_->system_id_ << "): the saved position is ignored";
      s_->accounted_lsn_ = s_->persisted_lsn_ = 0;
    }
    s_->system_id_ = id->system_id;
  }
  // From 0/0 the server resends from the slot's confirmed_flush_lsn;
  // transactions already accounted are skipped by their commit LSN.
  if (absl::Status st = repl_->StartLogical(o_.slot, 0, PluginOptions()); !st.ok()) return st;
  streamed_ = true;
  s_->SetState("streaming", "");
  last_status_ = absl::Now();
  while (true) {
    if (s_->stop_.HasBeenNotified()) return Confirm();
    absl::StatusOr<pg::ReplicationMessage> m = repl_->Poll(kPollTimeout);
    if (!m.ok()) return m.status();
    if (absl::Status st = Step(*m); !st.ok()) return st;
    const absl::Time now = absl::Now();
    if (now - last_status_ >= o_.status_interval) {
      if (absl::Status st = Confirm(); !st.ok()) return st;
    }
    if (now - last_refresh_ >= kRefreshInterval) RefreshSlot();
  }
}

absl::Status ChangeStream::Attempt::Step(const pg::ReplicationMessage& m) {
  using Kind = pg::ReplicationMessage::Kind;
  if (m.kind == Kind::kNone) return absl::OkStatus();
  server_end_ = std::max(server_end_, m.wal_end);
  if (m.kind == Kind::kKeepalive) {
    // Outside a transaction everything before wal_end has been sent and
    // accounted: confirming it keeps an idle or unwatched slot moving.
    if (!txns_.in_transaction()) idle_pos_ = std::max(idle_pos_, m.wal_end);
    if (m.reply_requested) return Confirm();
    return absl::OkStatus();
  }
  FeedResult r = txns_.Feed(m.data, m.wal_start);
  if (!r.error.ok()) {
    PGW_LOG(Warning) << "change stream " << o_.target << " at " << FormatLsn(m.wal_start) << ": "
                     << r.error.message();
    absl::MutexLock lock(&s_->mu_);
    ++s_->counts_.malformed_lines;
  }
  if (s_->journal_ != nullptr) Journal(m, r);
  if (r.committed.has_value()) s_->Account(std::move(*r.committed));
  return absl::OkStatus();
}

void ChangeStream::Attempt::Journal(const pg::ReplicationMessage& m, const FeedResult& r) {
  RowJournal& journal = *s_->journal_;
  absl::Status status;
  int64_t added = 0;
  if (r.committed.has_value()) {
    if (journal_rows_ > 0) {
      status = journal.Commit(
          JournalCommit{r.committed->xid, r.committed->commit_lsn, r.committed->commit_time},
          o_.clock->Now());
    }
    journal_rows_ = 0;
  } else if (absl::StartsWith(m.data, "table ") && r.error.ok()) {
    const size_t at = m.data.find(": DELETE:");
    if (at == std::string::npos) return;
    absl::StatusOr<DecodedLine> d = ParseTestDecodingLine(m.data);
    if (!d.ok() || d->kind != DecodedKind::kDelete || d->tables.size() != 1) return;
    const DecodedTable& t = d->tables[0];
    if (o_.watched && !o_.watched(t.schema, t.table)) return;
    absl::StatusOr<std::vector<DecodedColumn>> cols =
        ParseDecodedColumns(absl::string_view(m.data).substr(at + 9));
    if (!cols.ok()) {
      status = cols.status();  // never the row itself: it is customer data
    } else {
      status = journal.AddRow(JournalRow{txns_.xid(), m.wal_start, t.schema, t.table, *cols});
      added = status.ok() ? 1 : 0;
      journal_rows_ += added;
    }
  }
  if (!status.ok()) {
    PGW_LOG(Warning) << "change stream " << o_.target << ": row journal: " << status.message();
  }
  absl::MutexLock lock(&s_->mu_);
  JournalStats& st = s_->journal_stats_;
  st.bytes = journal.bytes();
  st.rows += added;
  st.dropped = journal.dropped();
  if (!status.ok()) ++st.errors;
}

absl::Status ChangeStream::Attempt::Confirm() {
  last_status_ = absl::Now();
  const CrashPoint crash = s_->crash_.load();
  if (crash == CrashPoint::kBeforePersist) {
    s_->crashed_.store(true);
    return absl::AbortedError("simulated crash before persisting");
  }
  uint64_t target = 0;
  {
    absl::MutexLock lock(&s_->mu_);
    if (s_->dirty_) {
      if (absl::Status p = s_->PersistState(); !p.ok()) return p;
    }
    target = std::max({s_->persisted_lsn_, idle_pos_, confirmed_});
  }
  if (crash == CrashPoint::kAfterPersist) {
    s_->crashed_.store(true);
    return absl::AbortedError("simulated crash after persisting, before confirming");
  }
  if (absl::Status st = repl_->SendStatus(target, target, target); !st.ok()) return st;
  confirmed_ = target;
  absl::MutexLock lock(&s_->mu_);
  s_->status_.confirmed_lsn = target;
  if (server_end_ > target) s_->status_.lag_bytes = static_cast<int64_t>(server_end_ - target);
  return absl::OkStatus();
}

void ChangeStream::Attempt::RefreshSlot() {
  last_refresh_ = absl::Now();
  if (sql_ == nullptr) return;
  absl::StatusOr<SlotReport> r = InspectSlot(*sql_, o_.slot);
  if (!r.ok()) {
    PGW_LOG(Debug) << "change stream " << o_.target
                   << ": slot query failed: " << r.status().message();
    if (!sql_->IsOpen()) sql_.reset();
    return;
  }
  absl::MutexLock lock(&s_->mu_);
  s_->status_.wal_status = r->wal_status;
  s_->status_.retained_bytes = r->retained_bytes;
  s_->status_.lag_bytes = r->lag_bytes;
}

}  // namespace pgwarden
