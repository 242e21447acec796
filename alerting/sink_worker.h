#ifndef PGWARDEN_ALERTING_SINK_WORKER_H_
#define PGWARDEN_ALERTING_SINK_WORKER_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "alerting/config.h"
#include "alerting/http_client.h"
#include "alerting/outbox.h"
#include "alerting/sinks.h"
#include "core/clock.h"
#include "prometheus/counter.h"
#include "prometheus/gauge.h"

namespace pgwarden {
namespace internal {

// SinkMetrics are one sink's children of the dispatcher's metric families.
struct SinkMetrics {
  prometheus::Counter* ok;
  prometheus::Counter* retry;
  prometheus::Counter* failed;
  prometheus::Counter* dropped;
  prometheus::Gauge* depth;
  prometheus::Gauge* oldest;
};

// SinkWorker owns one sink's queue and thread: it delivers the queue in
// order, retries transient failures with capped, jittered exponential
// backoff (or the receiver's Retry-After) and tombstones each entry in the
// outbox once it is delivered, rejected or dropped.
class SinkWorker {
 public:
  SinkWorker(SinkConfig config, std::unique_ptr<Sink> sink, Outbox* outbox, Clock* clock,
             size_t max_entries, SinkMetrics metrics);
  ~SinkWorker();
  SinkWorker(const SinkWorker&) = delete;
  SinkWorker& operator=(const SinkWorker&) = delete;

  const std::string& name() const { return config_.name; }
  const SinkConfig& config() const { return config_; }
  const SinkMetrics& metrics() const { return metrics_; }

  // Start starts the thread (once; not after Stop).
  void Start();
  // Stop aborts the request in flight and joins the thread; the queue stays.
  void Stop();
  // Enqueue adds `e` and returns the ids dropped to keep the queue bounded.
  std::vector<uint64_t> Enqueue(OutboxEntry e);
  // TakeQueue empties the queue (after Stop) for the worker that replaces
  // this one; the entries stay in the outbox.
  std::deque<OutboxEntry> TakeQueue();
  // Idle reports whether nothing is queued or being sent.
  bool Idle() const;
  // Depth is the number of queued entries.
  size_t Depth() const;
  // CheckOverdue aborts the request in flight if its deadline (steady
  // clock) has passed.
  void CheckOverdue(std::chrono::steady_clock::time_point now) { guard_.CancelIfOverdue(now); }

 private:
  // Backoff is the delay before retry number `attempt` (1-based): the
  // exponential step capped at retry_max, jittered into [step/2, step].
  absl::Duration Backoff(int attempt) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void UpdateGaugesLocked(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // PopLocked removes `e` from the queue and tombstones it in the outbox.
  void PopLocked(const OutboxEntry& e) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // HandleLocked counts, logs and acts on the outcome of delivering `e`.
  void HandleLocked(const OutboxEntry& e, const DeliveryOutcome& out)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // DeliverFrontLocked makes one attempt at the oldest entry, with mu_
  // released while the request runs.
  void DeliverFrontLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // ResendLocked lets the sink re-send its state, with mu_ released.
  void ResendLocked(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Loop();

  const SinkConfig config_;
  // sink_ is used by the worker thread only (Deliver and Resend run without
  // mu_, so that Enqueue never waits for the network).
  const std::unique_ptr<Sink> sink_;
  Outbox* const outbox_;
  Clock* const clock_;
  const size_t max_entries_;
  const SinkMetrics metrics_;
  RequestGuard guard_;

  mutable absl::Mutex mu_;
  absl::CondVar cv_;
  std::mt19937_64 rng_ ABSL_GUARDED_BY(mu_);
  std::deque<OutboxEntry> queue_ ABSL_GUARDED_BY(mu_);
  bool busy_ ABSL_GUARDED_BY(mu_) = false;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  int attempts_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Time next_attempt_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  // thread_ is started by Start (under mu_) and joined by Stop (without mu_,
  // which the thread needs to finish); the dispatcher never calls them
  // concurrently.
  std::thread thread_;
};

}  // namespace internal
}  // namespace pgwarden

#endif  // PGWARDEN_ALERTING_SINK_WORKER_H_
