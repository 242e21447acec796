#include "alerting/sink_worker.h"

#include <algorithm>
#include <utility>

#include "absl/status/status.h"
#include "core/log.h"

namespace pgwarden {
namespace internal {

SinkWorker::SinkWorker(SinkConfig config, std::unique_ptr<Sink> sink, Outbox* outbox, Clock* clock,
                       size_t max_entries, SinkMetrics metrics)
    : config_(std::move(config)),
      sink_(std::move(sink)),
      outbox_(outbox),
      clock_(clock),
      max_entries_(std::max<size_t>(1, max_entries)),
      metrics_(metrics),
      rng_(std::random_device{}()) {}

SinkWorker::~SinkWorker() { Stop(); }

void SinkWorker::Start() {
  absl::MutexLock lock(&mu_);
  if (thread_.joinable() || stop_) return;
  thread_ = std::thread([this] { Loop(); });
}

void SinkWorker::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  guard_.Cancel();
  cv_.SignalAll();
  if (thread_.joinable()) thread_.join();
}

std::deque<OutboxEntry> SinkWorker::TakeQueue() {
  absl::MutexLock lock(&mu_);
  std::deque<OutboxEntry> out;
  out.swap(queue_);
  metrics_.depth->Set(0);
  return out;
}

std::vector<uint64_t> SinkWorker::Enqueue(OutboxEntry e) {
  std::vector<uint64_t> dropped;
  {
    absl::MutexLock lock(&mu_);
    while (queue_.size() >= max_entries_) {
      // Drop the oldest entry that is not being sent right now.
      const size_t victim = (busy_ && queue_.size() > 1) ? 1 : 0;
      const OutboxEntry& v = queue_[victim];
      PGW_LOG(Warning) << "alert sink " << config_.name << ": queue full (" << max_entries_
                       << " entries), dropping the oldest pending "
                       << (v.alert.action == AlertAction::kTrigger ? "trigger" : "resolve")
                       << " dedup_key=" << v.alert.dedup_key;
      dropped.push_back(v.id);
      queue_.erase(queue_.begin() + static_cast<std::ptrdiff_t>(victim));
      metrics_.dropped->Increment();
    }
    queue_.push_back(std::move(e));
    metrics_.depth->Set(static_cast<double>(queue_.size()));
  }
  cv_.SignalAll();
  return dropped;
}

bool SinkWorker::Idle() const {
  absl::MutexLock lock(&mu_);
  return queue_.empty() && !busy_;
}

size_t SinkWorker::Depth() const {
  absl::MutexLock lock(&mu_);
  return queue_.size();
}

absl::Duration SinkWorker::Backoff(int attempt) {
  absl::Duration step = config_.retry_initial;
  for (int i = 1; i < attempt && step < config_.retry_max; ++i) step *= 2;
  step = std::min(step, config_.retry_max);
  std::uniform_real_distribution<double> jitter(0.5, 1.0);
  return step * jitter(rng_);
}

void SinkWorker::UpdateGaugesLocked(absl::Time now) {
  metrics_.depth->Set(static_cast<double>(queue_.size()));
  metrics_.oldest->Set(
      queue_.empty() ? 0.0 : std::max(0.0, absl::ToDoubleSeconds(now - queue_.front().enqueued)));
}

void SinkWorker::PopLocked(const OutboxEntry& e) {
  if (!queue_.empty() && queue_.front().id == e.id) queue_.pop_front();
  absl::Status s = outbox_->MarkDone(e.id);
  if (!s.ok()) {
    PGW_LOG(Error) << "alert sink " << config_.name
                   << ": cannot record delivery in outbox: " << s.message();
  }
  attempts_ = 0;
  next_attempt_ = absl::InfinitePast();
}

void SinkWorker::HandleLocked(const OutboxEntry& e, const DeliveryOutcome& out) {
  const char* action = e.alert.action == AlertAction::kTrigger ? "trigger" : "resolve";
  switch (out.result) {
    case DeliveryResult::kOk:
      metrics_.ok->Increment();
      if (attempts_ > 0) {
        PGW_LOG(Info) << "alert sink " << config_.name << ": " << action
                      << " dedup_key=" << e.alert.dedup_key << " delivered after " << attempts_
                      << " retries";
      }
      PopLocked(e);
      break;
    case DeliveryResult::kFailed:
      metrics_.failed->Increment();
      PGW_LOG(Error) << "alert sink " << config_.name << ": receiver rejected " << action
                     << " dedup_key=" << e.alert.dedup_key << " (not retried): " << out.message;
      PopLocked(e);
      break;
    case DeliveryResult::kRetry: {
      metrics_.retry->Increment();
      ++attempts_;
      absl::Duration delay = Backoff(attempts_);
      if (out.retry_after) {
        delay = std::min(std::max(*out.retry_after, absl::ZeroDuration()), config_.retry_after_max);
      }
      next_attempt_ = clock_->Now() + delay;
      if (attempts_ == 1 || attempts_ % 10 == 0) {
        PGW_LOG(Warning) << "alert sink " << config_.name << ": " << action
                         << " dedup_key=" << e.alert.dedup_key << " attempt " << attempts_
                         << " failed (" << out.message << "), retrying in "
                         << absl::FormatDuration(delay);
      }
      break;
    }
  }
}

void SinkWorker::DeliverFrontLocked() {
  OutboxEntry e = queue_.front();
  busy_ = true;
  mu_.Unlock();
  DeliveryOutcome out = sink_->Deliver(e, &guard_);
  mu_.Lock();
  busy_ = false;
  if (!stop_ || out.result != DeliveryResult::kRetry) HandleLocked(e, out);
}

void SinkWorker::ResendLocked(absl::Time now) {
  busy_ = true;
  mu_.Unlock();
  sink_->Resend(now, &guard_);
  mu_.Lock();
  busy_ = false;
}

void SinkWorker::Loop() {
  absl::MutexLock lock(&mu_);
  while (!stop_) {
    const absl::Time now = clock_->Now();
    UpdateGaugesLocked(now);
    absl::Time wake = now + absl::Seconds(1);
    if (!queue_.empty()) {
      if (now >= next_attempt_) {
        DeliverFrontLocked();
        continue;
      }
      wake = std::min(wake, next_attempt_);
    } else if (sink_->NextResend() <= now) {
      ResendLocked(now);
      continue;
    } else {
      wake = std::min(wake, sink_->NextResend());
    }
    // The only real-time wait here, and only a wake-up bound: the loop reads
    // the injected clock again after at most 1 s (Enqueue and Stop wake it at
    // once), so a retry or re-send is due by clock_, never by this timeout.
    cv_.WaitWithTimeout(&mu_, std::max(wake - now, absl::Milliseconds(1)));
  }
}

}  // namespace internal
}  // namespace pgwarden
