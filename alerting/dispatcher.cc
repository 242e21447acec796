#include "alerting/dispatcher.h"

#include <chrono>
#include <exception>
#include <filesystem>
#include <map>
#include <system_error>
#include <thread>

#include "absl/strings/str_cat.h"
#include "alerting/sink_worker.h"
#include "alerting/sinks.h"
#include "core/log.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"

namespace pgwarden {

namespace {

// RegisterMetrics registers the dispatcher's metric families and returns
// each sink's children, in the order of config.sinks.
absl::StatusOr<std::vector<internal::SinkMetrics>> RegisterMetrics(
    const AlertingConfig& config, prometheus::Registry& registry,
    const prometheus::Labels& const_labels) {
  std::vector<internal::SinkMetrics> out;
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
    for (const SinkConfig& sink : config.sinks) {
      const std::string& name = sink.name;
      out.push_back({&deliveries.Add({{"sink", name}, {"result", "ok"}}),
                     &deliveries.Add({{"sink", name}, {"result", "retry"}}),
                     &deliveries.Add({{"sink", name}, {"result", "failed"}}),
                     &deliveries.Add({{"sink", name}, {"result", "dropped"}}),
                     &depth.Add({{"sink", name}}), &oldest.Add({{"sink", name}})});
    }
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("registering alerting metrics: ", e.what()));
  }
  return out;
}

}  // namespace

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

  absl::StatusOr<std::vector<internal::SinkMetrics>> metrics =
      RegisterMetrics(config, registry, const_labels);
  if (!metrics.ok()) return metrics.status();
  for (size_t i = 0; i < config.sinks.size(); ++i) {
    d->workers_.push_back(std::make_unique<internal::SinkWorker>(
        config.sinks[i], std::move(sinks[i]), d->outbox_.get(), d->clock_,
        config.outbox_max_entries, (*metrics)[i]));
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
  absl::MutexLock lock(&run_mu_);
  if (started_ || stopping_) return;
  started_ = true;
  for (auto& w : workers_) w->Start();
  watchdog_ = std::thread([this] { WatchdogLoop(); });
}

void AlertDispatcher::Stop() {
  absl::MutexLock lock(&run_mu_);
  stopping_ = true;
  for (auto& w : workers_) w->Stop();
  if (watchdog_.joinable()) watchdog_.join();
}

// WatchdogLoop enforces the whole-request timeouts. It reads the steady
// clock and sleeps in real time on purpose, not through clock_: it bounds
// real network I/O, which a fake clock would never time out.
void AlertDispatcher::WatchdogLoop() {
  while (!stopping_) {
    const auto now = std::chrono::steady_clock::now();
    for (auto& w : workers_) w->CheckOverdue(now);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

void AlertDispatcher::Notify(const Alert& alert) {
  if (workers_.empty()) return;
  absl::MutexLock lock(&notify_mu_);
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
  const absl::Time deadline = clock_->Now() + timeout;
  while (true) {
    bool idle = true;
    for (auto& w : workers_) idle = idle && w->Idle();
    if (idle) return true;
    if (clock_->Now() >= deadline) return false;
    // A real-time poll interval only; the timeout is on clock_.
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

size_t AlertDispatcher::Pending() const {
  size_t n = 0;
  for (const auto& w : workers_) n += w->Depth();
  return n;
}

}  // namespace pgwarden
