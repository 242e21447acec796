#include "sources/change_stream.h"

#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <utility>

#include "absl/strings/str_cat.h"
#include "core/durable_file.h"
#include "core/log.h"
#include "core/target_id.h"
#include "nlohmann/json.hpp"
#include "sources/change_stream_attempt.h"

namespace pgwarden {
namespace {

constexpr int kStateVersion = 1;

nlohmann::json CountsJson(const ChangeCounts& c) {
  return {{"transactions", c.transactions}, {"inserted", c.inserted},
          {"updated", c.updated},           {"deleted", c.deleted},
          {"truncates", c.truncates},       {"malformed_lines", c.malformed_lines},
          {"dropped_txns", c.dropped_txns}, {"duplicates_skipped", c.duplicates_skipped}};
}

ChangeCounts CountsFromJson(const nlohmann::json& j) {
  ChangeCounts c;
  c.transactions = j.value("transactions", int64_t{0});
  c.inserted = j.value("inserted", int64_t{0});
  c.updated = j.value("updated", int64_t{0});
  c.deleted = j.value("deleted", int64_t{0});
  c.truncates = j.value("truncates", int64_t{0});
  c.malformed_lines = j.value("malformed_lines", int64_t{0});
  c.dropped_txns = j.value("dropped_txns", int64_t{0});
  c.duplicates_skipped = j.value("duplicates_skipped", int64_t{0});
  return c;
}

}  // namespace

ChangeStream::ChangeStream(ChangeStreamOptions options) : options_(std::move(options)) {
  status_.slot = options_.slot;
}

ChangeStream::~ChangeStream() { Stop(); }

std::string ChangeStream::StatePath() const {
  return absl::StrCat(options_.state_dir.empty() ? "." : options_.state_dir, "/change_stream_",
                      TargetFileName(options_.target), ".json");
}

void ChangeStream::Start() {
  if (thread_.joinable()) return;
  if (absl::Status s = LoadState(); !s.ok()) {
    PGW_LOG(Warning) << "change stream " << options_.target << ": " << s.message()
                     << "; counting starts again from zero";
  }
  if (!options_.journal.dir.empty()) {
    journal_ = std::make_unique<RowJournal>(options_.journal);
    if (absl::Status s = journal_->Open(); !s.ok()) {
      PGW_LOG(Warning) << "change stream " << options_.target << ": row journal: " << s.message()
                       << "; deleted rows are not kept";
      journal_.reset();
    }
  }
  thread_ = std::thread([this] { Run(); });
}

void ChangeStream::Stop() {
  if (!stop_.HasBeenNotified()) stop_.Notify();
  if (thread_.joinable()) thread_.join();
}

std::vector<CommittedTxn> ChangeStream::Drain() {
  absl::MutexLock lock(&mu_);
  std::vector<CommittedTxn> out(std::make_move_iterator(queue_.begin()),
                                std::make_move_iterator(queue_.end()));
  queue_.clear();
  return out;
}

std::vector<CoverageGap> ChangeStream::DrainGaps() {
  absl::MutexLock lock(&mu_);
  std::vector<CoverageGap> out = std::move(gaps_);
  gaps_.clear();
  return out;
}

ChangeCounts ChangeStream::counts() const {
  absl::MutexLock lock(&mu_);
  return counts_;
}

ChangeStreamStatus ChangeStream::status() const {
  absl::MutexLock lock(&mu_);
  return status_;
}

void ChangeStream::SetState(const std::string& state, const std::string& error) {
  absl::MutexLock lock(&mu_);
  status_.state = state;
  status_.up = state == "streaming";
  if (!error.empty() || state == "streaming") status_.last_error = error;
}

absl::Status ChangeStream::LoadState() {
  const std::string path = StatePath();
  std::ifstream in(path);
  if (!in) return absl::OkStatus();  // first start
  std::stringstream buf;
  buf << in.rdbuf();
  nlohmann::json j = nlohmann::json::parse(buf.str(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object() || !j.contains("counts")) {
    const std::string aside = path + ".corrupt";
    std::rename(path.c_str(), aside.c_str());
    return absl::DataLossError(
        absl::StrCat("state file ", path, " is unreadable (moved to ", aside, ")"));
  }
  absl::MutexLock lock(&mu_);
  counts_ = CountsFromJson(j["counts"]);
  system_id_ = j.value("system_id", "");
  uint64_t lsn = 0;
  // A position belongs to one slot of one cluster.
  if (j.value("slot", "") == options_.slot && ParseLsn(j.value("commit_lsn", "0/0"), &lsn)) {
    accounted_lsn_ = persisted_lsn_ = lsn;
  }
  return absl::OkStatus();
}

absl::Status ChangeStream::PersistState() {
  nlohmann::json j = {{"version", kStateVersion},
                      {"target", options_.target},
                      {"slot", options_.slot},
                      {"system_id", system_id_},
                      {"commit_lsn", FormatLsn(accounted_lsn_)},
                      {"counts", CountsJson(counts_)}};
  if (!options_.state_dir.empty()) mkdir(options_.state_dir.c_str(), 0700);
  absl::Status s = WriteFileDurably(StatePath(), j.dump(2) + "\n", 0600);
  if (!s.ok()) return s;
  persisted_lsn_ = accounted_lsn_;
  dirty_ = false;
  return absl::OkStatus();
}

bool ChangeStream::Account(CommittedTxn txn) {
  const absl::Time commit_time = txn.commit_time;
  {
    absl::MutexLock lock(&mu_);
    if (txn.commit_lsn <= accounted_lsn_) {
      ++counts_.duplicates_skipped;
      return false;
    }
    accounted_lsn_ = txn.commit_lsn;
    dirty_ = true;
    if (txn.tables.empty()) return true;
    ++counts_.transactions;
    for (const TableChange& t : txn.tables) {
      counts_.inserted += t.inserted;
      counts_.updated += t.updated;
      counts_.deleted += t.deleted;
      if (t.truncated) ++counts_.truncates;
    }
    if (queue_.size() >= std::max<size_t>(1, options_.max_queue)) {
      queue_.pop_front();
      ++counts_.dropped_txns;
    }
    queue_.push_back(std::move(txn));
  }
  PGW_LOG(Debug) << "change stream " << options_.target << ": queued a transaction committed "
                 << absl::FormatDuration(absl::Now() - commit_time) << " ago";
  if (options_.on_data) options_.on_data();
  return true;
}

void ChangeStream::AddGap(const std::string& reason) {
  PGW_LOG(Warning) << "change stream " << options_.target << ": gap in coverage: " << reason;
  absl::MutexLock lock(&mu_);
  gaps_.push_back(CoverageGap{options_.clock->Now(), options_.slot, reason});
}

void ChangeStream::Run() {
  const ScopedLogTarget log_target(options_.target);
  absl::Duration backoff = absl::Seconds(1);
  while (!stop_.HasBeenNotified() && !crashed_.load()) {
    Attempt attempt(this);
    absl::Status s = attempt.Run();
    if (crashed_.load()) return;  // simulated crash: nothing more is written
    if (stop_.HasBeenNotified()) break;
    const std::string why(s.message());
    if (attempt.refused()) {
      SetState("refused", why);
      PGW_LOG(Warning) << "change stream " << options_.target << " refused: " << why;
      backoff = absl::Seconds(1);
      Wait(options_.refusal_recheck);
      continue;
    }
    if (attempt.streamed()) backoff = absl::Seconds(1);
    SetState("error", why);
    PGW_LOG(Warning) << "change stream " << options_.target << ": " << why << " (retrying in "
                     << absl::FormatDuration(backoff) << ")";
    Wait(backoff);
    backoff = std::min(backoff * 2, std::max(options_.max_backoff, absl::Seconds(1)));
  }
  absl::MutexLock lock(&mu_);
  if (dirty_) {
    if (absl::Status s = PersistState(); !s.ok()) {
      PGW_LOG(Error) << "change stream " << options_.target << ": " << s.message();
    }
  }
  status_.state = "stopped";
  status_.up = false;
}

}  // namespace pgwarden
