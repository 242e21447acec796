#ifndef PGWARDEN_ALERTING_DISPATCHER_H_
#define PGWARDEN_ALERTING_DISPATCHER_H_

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "alerting/alert.h"
#include "alerting/config.h"
#include "alerting/outbox.h"
#include "core/clock.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/labels.h"
#include "prometheus/registry.h"

namespace pgwarden {

namespace internal {
class SinkWorker;
}  // namespace internal

// AlertDispatcher fans every alert out to all configured sinks. Each alert is
// first written to the durable outbox (state_dir/outbox.log, fsync'ed), then
// queued for each sink. Every sink has its own worker thread that delivers
// its queue in order (per sink FIFO, so in order per incident), retrying
// transient failures (transport errors, timeouts, 408, 429, 5xx) with capped
// exponential backoff and jitter (429/503 Retry-After honoured up to
// retry_after_max); other answers are permanent failures, logged with the
// receiver's answer (truncated). An entry leaves the outbox only once its
// receiver accepted it (or rejected it permanently, or it was dropped
// because the sink's queue held outbox_max_entries). After a crash the next
// Create re-queues what was pending, with the same dedup keys.
//
// Metrics (registered with the given const labels):
//   pgwarden_alert_deliveries_total{sink,result}  result: ok|retry|failed|dropped
//   pgwarden_alert_queue_depth{sink}
//   pgwarden_alert_oldest_pending_seconds{sink}
class AlertDispatcher : public Notifier {
 public:
  // Create builds the sinks and opens (or creates) the durable outbox in
  // state_dir (state_dir/outbox.log); pending entries from an earlier run
  // are re-queued (entries for sinks no longer configured are dropped).
  static absl::StatusOr<std::unique_ptr<AlertDispatcher>> Create(
      const AlertingConfig& config, const std::string& state_dir, prometheus::Registry& registry,
      const prometheus::Labels& const_labels, Clock* clock);
  ~AlertDispatcher() override;
  AlertDispatcher(const AlertDispatcher&) = delete;
  AlertDispatcher& operator=(const AlertDispatcher&) = delete;

  // Start starts one worker thread per sink (and the request watchdog).
  void Start();
  // Stop stops promptly (bounded by the connect timeout): in-flight requests
  // are aborted; pending entries stay in the outbox.
  void Stop();
  // Notify persists (fsync) then enqueues; never blocks on the network.
  void Notify(const Alert& alert) override;
  // WaitIdle waits up to `timeout` (on the injected clock) until nothing is
  // pending (for tests and shutdown); true if idle.
  bool WaitIdle(absl::Duration timeout);
  // Pending is the number of entries not yet delivered, over all sinks.
  size_t Pending() const;
  // Reconfigure applies a reloaded `alerting:` section: a sink whose
  // settings did not change keeps its worker and queue; a changed one gets
  // a new worker that takes over its queue; a new one starts with the next
  // alert; a removed one is stopped and its pending entries are dropped from
  // the outbox (logged). Nothing changes if a sink cannot be built.
  // (outbox_max_entries and connect_timeout apply to new workers.)
  absl::Status Reconfigure(const AlertingConfig& config);

  // Families are the dispatcher's metric families (set by Create).
  struct Families {
    prometheus::Family<prometheus::Counter>* deliveries = nullptr;
    prometheus::Family<prometheus::Gauge>* depth = nullptr;
    prometheus::Family<prometheus::Gauge>* oldest = nullptr;
  };

 private:
  AlertDispatcher() = default;
  void WatchdogLoop();
  // MarkDone tombstones `ids` in the outbox (errors are logged).
  void MarkDone(const std::vector<uint64_t>& ids);

  // notify_mu_ serialises Notify, so that the outbox and every sink's queue
  // see alerts in the same order.
  absl::Mutex notify_mu_;
  // outbox_, families_ and clock_ are set by Create and fixed afterwards;
  // workers_ changes only in Reconfigure (under run_mu_, notify_mu_ and
  // workers_mu_).
  std::unique_ptr<Outbox> outbox_;
  Families families_;
  mutable absl::Mutex workers_mu_ ABSL_ACQUIRED_AFTER(notify_mu_);
  std::vector<std::unique_ptr<internal::SinkWorker>> workers_ ABSL_GUARDED_BY(workers_mu_);
  Clock* clock_ = nullptr;
  absl::Mutex run_mu_;
  bool started_ ABSL_GUARDED_BY(run_mu_) = false;
  std::atomic<bool> stopping_{false};
  std::thread watchdog_ ABSL_GUARDED_BY(run_mu_);
};

}  // namespace pgwarden

#endif  // PGWARDEN_ALERTING_DISPATCHER_H_
