#include "alerting/dispatcher.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <exception>
#include <filesystem>
#include <map>
#include <random>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "alerting/http_client.h"
#include "alerting/sinks.h"
#include "core/log.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
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

// SinkWorker owns one sink's queue and thread.
class SinkWorker {
 public:
  SinkWorker(SinkConfig config, std::unique_ptr<Sink> sink, Outbox* outbox, Clock* clock,
             size_t max_entries, SinkMetrics metrics)
      : config_(std::move(config)),
        sink_(std::move(sink)),
        outbox_(outbox),
        clock_(clock),
        max_entries_(std::max<size_t>(1, max_entries)),
        metrics_(metrics),
        rng_(std::random_device{}()) {}

  ~SinkWorker() { Stop(); }

  const std::string& name() const { return config_.name; }

  void Start() {
    std::lock_guard<std::mutex> lock(mu_);
    if (thread_.joinable() || stop_) return;
    thread_ = std::thread([this] { Loop(); });
  }

  void Stop() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    guard_.Cancel();
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

  // Enqueue adds `e` and returns the ids dropped to keep the queue bounded.
  std::vector<uint64_t> Enqueue(OutboxEntry e) {
    std::vector<uint64_t> dropped;
    {
      std::lock_guard<std::mutex> lock(mu_);
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
    cv_.notify_all();
    return dropped;
  }

  bool Idle() const {
    std::lock_guard<std::mutex> lock(mu_);
    return queue_.empty() && !busy_;
  }

  size_t Depth() const {
    std::lock_guard<std::mutex> lock(mu_);
    return queue_.size();
  }

  void CheckOverdue(std::chrono::steady_clock::time_point now) { guard_.CancelIfOverdue(now); }

 private:
  static std::chrono::microseconds ToChrono(absl::Duration d) {
    return std::chrono::microseconds(absl::ToInt64Microseconds(d));
  }

  // Backoff is the delay before retry number `attempt` (1-based): the
  // exponential step capped at retry_max, jittered into [step/2, step].
  absl::Duration Backoff(int attempt) {
    absl::Duration step = config_.retry_initial;
    for (int i = 1; i < attempt && step < config_.retry_max; ++i) step *= 2;
    step = std::min(step, config_.retry_max);
    std::uniform_real_distribution<double> jitter(0.5, 1.0);
    return step * jitter(rng_);
  }

  void UpdateGaugesLocked(absl::Time now) {
    metrics_.depth->Set(static_cast<double>(queue_.size()));
    metrics_.oldest->Set(
        queue_.empty() ? 0.0 : std::max(0.0, absl::ToDoubleSeconds(now - queue_.front().enqueued)));
  }

  void PopLocked(const OutboxEntry& e) {
    if (!queue_.empty() && queue_.front().id == e.id) queue_.pop_front();
    absl::Status s = outbox_->MarkDone(e.id);
    if (!s.ok()) {
      PGW_LOG(Error) << "alert sink " << config_.name
                     << ": cannot record delivery in outbox: " << s.message();
    }
    attempts_ = 0;
    next_attempt_ = absl::InfinitePast();
  }

  void HandleLocked(const OutboxEntry& e, const DeliveryOutcome& out) {
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
          delay =
              std::min(std::max(*out.retry_after, absl::ZeroDuration()), config_.retry_after_max);
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

  void Loop() {
    std::unique_lock<std::mutex> l(mu_);
    while (!stop_) {
      const absl::Time now = clock_->Now();
      UpdateGaugesLocked(now);
      absl::Time wake = now + absl::Seconds(1);
      if (!queue_.empty()) {
        if (now >= next_attempt_) {
          OutboxEntry e = queue_.front();
          busy_ = true;
          l.unlock();
          DeliveryOutcome out = sink_->Deliver(e, &guard_);
          l.lock();
          busy_ = false;
          if (!stop_ || out.result != DeliveryResult::kRetry) HandleLocked(e, out);
          continue;
        }
        wake = std::min(wake, next_attempt_);
      } else if (sink_->NextResend() <= now) {
        busy_ = true;
        l.unlock();
        sink_->Resend(now, &guard_);
        l.lock();
        busy_ = false;
        continue;
      } else {
        wake = std::min(wake, sink_->NextResend());
      }
      cv_.wait_for(l, ToChrono(std::max(wake - now, absl::Milliseconds(1))));
    }
  }

  const SinkConfig config_;
  std::unique_ptr<Sink> sink_;
  Outbox* outbox_;
  Clock* clock_;
  const size_t max_entries_;
  SinkMetrics metrics_;
  std::mt19937_64 rng_;
  RequestGuard guard_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<OutboxEntry> queue_;
  bool busy_ = false;
  bool stop_ = false;
  int attempts_ = 0;
  absl::Time next_attempt_ = absl::InfinitePast();
  std::thread thread_;
};

}  // namespace internal

absl::StatusOr<std::unique_ptr<AlertDispatcher>> AlertDispatcher::Create(
    const AlertingConfig& config, const std::string& state_dir, prometheus::Registry& registry,
    const prometheus::Labels& const_labels, Clock* clock) {
  std::unique_ptr<AlertDispatcher> d(new AlertDispatcher());
  d->clock_ = clock != nullptr ? clock : RealClock::Get();

  std::vector<std::unique_ptr<Sink>> sinks;
  for (const SinkConfig& sc : config.sinks) {
    absl::StatusOr<std::unique_ptr<Sink>> sink = MakeSink(sc, d->clock_);
    if (!sink.ok()) return sink.status();
    sinks.push_back(std::move(*sink));
  }

  std::error_code ec;
  std::filesystem::create_directories(state_dir, ec);
  if (ec) {
    return absl::InternalError(
        absl::StrCat("cannot create alerting state dir ", state_dir, ": ", ec.message()));
  }
  std::vector<OutboxEntry> pending;
  absl::StatusOr<std::unique_ptr<Outbox>> outbox =
      Outbox::Open(absl::StrCat(state_dir, "/outbox.log"), &pending);
  if (!outbox.ok()) return outbox.status();
  d->outbox_ = std::move(*outbox);

  try {
    auto& deliveries = prometheus::BuildCounter()
                           .Name("pgwarden_alert_deliveries_total")
                           .Help(
                               "Alert delivery attempts by sink and result "
                               "(ok, retry, failed: rejected and not retried, dropped: queue full)")
                           .Labels(const_labels)
                           .Register(registry);
    auto& depth = prometheus::BuildGauge()
                      .Name("pgwarden_alert_queue_depth")
                      .Help("Alerts waiting for delivery, per sink")
                      .Labels(const_labels)
                      .Register(registry);
    auto& oldest = prometheus::BuildGauge()
                       .Name("pgwarden_alert_oldest_pending_seconds")
                       .Help("Age of the oldest alert waiting for delivery, per sink (0 if none)")
                       .Labels(const_labels)
                       .Register(registry);
    for (size_t i = 0; i < config.sinks.size(); ++i) {
      const std::string& name = config.sinks[i].name;
      internal::SinkMetrics m{&deliveries.Add({{"sink", name}, {"result", "ok"}}),
                              &deliveries.Add({{"sink", name}, {"result", "retry"}}),
                              &deliveries.Add({{"sink", name}, {"result", "failed"}}),
                              &deliveries.Add({{"sink", name}, {"result", "dropped"}}),
                              &depth.Add({{"sink", name}}),
                              &oldest.Add({{"sink", name}})};
      d->workers_.push_back(std::make_unique<internal::SinkWorker>(
          config.sinks[i], std::move(sinks[i]), d->outbox_.get(), d->clock_,
          config.outbox_max_entries, m));
    }
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("registering alerting metrics: ", e.what()));
  }

  std::map<std::string, internal::SinkWorker*> by_name;
  for (auto& w : d->workers_) by_name[w->name()] = w.get();
  for (OutboxEntry& e : pending) {
    auto it = by_name.find(e.sink);
    std::vector<uint64_t> dropped;
    if (it == by_name.end()) {
      PGW_LOG(Warning) << "alerting outbox: sink '" << e.sink
                       << "' is no longer configured, dropping pending alert dedup_key="
                       << e.alert.dedup_key;
      dropped.push_back(e.id);
    } else {
      dropped = it->second->Enqueue(std::move(e));
    }
    for (uint64_t id : dropped) {
      absl::Status s = d->outbox_->MarkDone(id);
      if (!s.ok()) return s;
    }
  }
  return d;
}

AlertDispatcher::~AlertDispatcher() { Stop(); }

void AlertDispatcher::Start() {
  std::lock_guard<std::mutex> lock(run_mu_);
  if (started_ || stopping_) return;
  started_ = true;
  for (auto& w : workers_) w->Start();
  watchdog_ = std::thread([this] { WatchdogLoop(); });
}

void AlertDispatcher::Stop() {
  std::lock_guard<std::mutex> lock(run_mu_);
  stopping_ = true;
  for (auto& w : workers_) w->Stop();
  if (watchdog_.joinable()) watchdog_.join();
}

void AlertDispatcher::WatchdogLoop() {
  while (!stopping_) {
    const auto now = std::chrono::steady_clock::now();
    for (auto& w : workers_) w->CheckOverdue(now);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

void AlertDispatcher::Notify(const Alert& alert) {
  if (workers_.empty()) return;
  std::lock_guard<std::mutex> lock(notify_mu_);
  std::vector<OutboxEntry> entries(workers_.size());
  const absl::Time now = clock_->Now();
  for (size_t i = 0; i < workers_.size(); ++i) {
    entries[i].sink = workers_[i]->name();
    entries[i].alert = alert;
    entries[i].enqueued = now;
  }
  absl::Status s = outbox_->Append(&entries);
  if (!s.ok()) {
    PGW_LOG(Error) << "alerting outbox: cannot persist alert dedup_key=" << alert.dedup_key
                   << " (delivering from memory only): " << s.message();
  }
  for (size_t i = 0; i < workers_.size(); ++i) {
    for (uint64_t id : workers_[i]->Enqueue(std::move(entries[i]))) {
      absl::Status ds = outbox_->MarkDone(id);
      if (!ds.ok()) {
        PGW_LOG(Error) << "alerting outbox: " << ds.message();
      }
    }
  }
}

bool AlertDispatcher::WaitIdle(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    bool idle = true;
    for (auto& w : workers_) idle = idle && w->Idle();
    if (idle) return true;
    if (absl::Now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

size_t AlertDispatcher::Pending() const {
  size_t n = 0;
  for (const auto& w : workers_) n += w->Depth();
  return n;
}

}  // namespace pgwarden
