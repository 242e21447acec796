#include "alerting/dispatcher.h"

#include <chrono>
#include <deque>
#include <exception>
#include <filesystem>
#include <map>
#include <system_error>
#include <thread>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "alerting/sink_worker.h"
#include "alerting/sinks.h"
#include "core/log.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"

namespace pgwarden {

namespace {

// SinkMetricsFor creates one sink's children of the dispatcher's families.
internal::SinkMetrics SinkMetricsFor(const AlertDispatcher::Families& f, const std::string& name) {
  return {&f.deliveries->Add({{"sink", name}, {"result", "ok"}}),
          &f.deliveries->Add({{"sink", name}, {"result", "retry"}}),
          &f.deliveries->Add({{"sink", name}, {"result", "failed"}}),
          &f.deliveries->Add({{"sink", name}, {"result", "dropped"}}),
          &f.depth->Add({{"sink", name}}),
          &f.oldest->Add({{"sink", name}})};
}

// RemoveSinkMetrics removes a sink's series (it is no longer configured).
void RemoveSinkMetrics(const AlertDispatcher::Families& f, const internal::SinkMetrics& m) {
  for (prometheus::Counter* c : {m.ok, m.retry, m.failed, m.dropped}) f.deliveries->Remove(c);
  f.depth->Remove(m.depth);
  f.oldest->Remove(m.oldest);
}

// MakeSinks builds every sink of `config`, or fails naming the first that
// cannot be built.
absl::StatusOr<std::vector<std::unique_ptr<Sink>>> MakeSinks(const AlertingConfig& config,
                                                             Clock* clock) {
  std::vector<std::unique_ptr<Sink>> sinks;
  for (const SinkConfig& sc : config.sinks) {
    absl::StatusOr<std::unique_ptr<Sink>> sink = MakeSink(sc, clock);
    if (!sink.ok()) return sink.status();
    sinks.push_back(std::move(*sink));
  }
  return sinks;
}

bool SameSink(const SinkConfig& a, const SinkConfig& b) {
  return std::tie(a.name, a.type, a.urls, a.routing_key, a.hmac_secret, a.timeout,
                  a.connect_timeout, a.retry_initial, a.retry_max, a.retry_after_max,
                  a.resend_interval, a.resolve_resend_for) ==
         std::tie(b.name, b.type, b.urls, b.routing_key, b.hmac_secret, b.timeout,
                  b.connect_timeout, b.retry_initial, b.retry_max, b.retry_after_max,
                  b.resend_interval, b.resolve_resend_for);
}

}  // namespace

absl::StatusOr<std::unique_ptr<AlertDispatcher>> AlertDispatcher::Create(
    const AlertingConfig& config, const std::string& state_dir, prometheus::Registry& registry,
    const prometheus::Labels& const_labels, Clock* clock) {
  std::unique_ptr<AlertDispatcher> d(new AlertDispatcher());
  d->clock_ = clock != nullptr ? clock : RealClock::Get();
  absl::StatusOr<std::vector<std::unique_ptr<Sink>>> sinks = MakeSinks(config, d->clock_);
  if (!sinks.ok()) return sinks.status();

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
    d->families_.deliveries = &prometheus::BuildCounter()
                                   .Name("pgwarden_alert_deliveries_total")
                                   .Help(
                                       "Alert delivery attempts by sink and result (ok, retry, "
                                       "failed: rejected and not retried, dropped: queue full)")
                                   .Labels(const_labels)
                                   .Register(registry);
    d->families_.depth = &prometheus::BuildGauge()
                              .Name("pgwarden_alert_queue_depth")
                              .Help("Alerts waiting for delivery, per sink")
                              .Labels(const_labels)
                              .Register(registry);
    d->families_.oldest =
        &prometheus::BuildGauge()
             .Name("pgwarden_alert_oldest_pending_seconds")
             .Help("Age of the oldest alert waiting for delivery, per sink (0 if none)")
             .Labels(const_labels)
             .Register(registry);
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("registering alerting metrics: ", e.what()));
  }
  absl::MutexLock lock(&d->workers_mu_);
  for (size_t i = 0; i < config.sinks.size(); ++i) {
    d->workers_.push_back(std::make_unique<internal::SinkWorker>(
        config.sinks[i], std::move((*sinks)[i]), d->outbox_.get(), d->clock_,
        config.outbox_max_entries, SinkMetricsFor(d->families_, config.sinks[i].name)));
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
  {
    absl::ReaderMutexLock workers(&workers_mu_);
    for (auto& w : workers_) w->Start();
  }
  watchdog_ = std::thread([this] { WatchdogLoop(); });
}

void AlertDispatcher::Stop() {
  absl::MutexLock lock(&run_mu_);
  stopping_ = true;
  {
    absl::ReaderMutexLock workers(&workers_mu_);
    for (auto& w : workers_) w->Stop();
  }
  if (watchdog_.joinable()) watchdog_.join();
}

absl::Status AlertDispatcher::Reconfigure(const AlertingConfig& config) {
  absl::StatusOr<std::vector<std::unique_ptr<Sink>>> sinks = MakeSinks(config, clock_);
  if (!sinks.ok()) return sinks.status();
  absl::MutexLock run(&run_mu_);
  absl::MutexLock notify(&notify_mu_);
  absl::MutexLock lock(&workers_mu_);
  std::map<std::string, std::unique_ptr<internal::SinkWorker>> old;
  for (auto& w : workers_) old[w->name()] = std::move(w);
  workers_.clear();
  for (size_t i = 0; i < config.sinks.size(); ++i) {
    const SinkConfig& sc = config.sinks[i];
    auto it = old.find(sc.name);
    if (it != old.end() && SameSink(it->second->config(), sc)) {
      workers_.push_back(std::move(it->second));
      old.erase(it);
      continue;
    }
    auto w = std::make_unique<internal::SinkWorker>(sc, std::move((*sinks)[i]), outbox_.get(),
                                                    clock_, config.outbox_max_entries,
                                                    SinkMetricsFor(families_, sc.name));
    if (it != old.end()) {
      // A changed sink: its replacement delivers what was still queued.
      it->second->Stop();
      for (OutboxEntry& e : it->second->TakeQueue()) MarkDone(w->Enqueue(std::move(e)));
      old.erase(it);
      PGW_LOG(Info) << "alert sink " << sc.name << ": reconfigured";
    } else {
      PGW_LOG(Info) << "alert sink " << sc.name << ": added";
    }
    if (started_ && !stopping_) w->Start();
    workers_.push_back(std::move(w));
  }
  for (auto& [name, w] : old) {
    w->Stop();
    std::deque<OutboxEntry> left = w->TakeQueue();
    PGW_LOG(Warning) << "alert sink " << name << ": removed, dropping its " << left.size()
                     << " pending alert(s)";
    for (const OutboxEntry& e : left) MarkDone({e.id});
    RemoveSinkMetrics(families_, w->metrics());
  }
  return absl::OkStatus();
}

void AlertDispatcher::MarkDone(const std::vector<uint64_t>& ids) {
  for (uint64_t id : ids) {
    absl::Status s = outbox_->MarkDone(id);
    if (!s.ok()) PGW_LOG(Error) << "alerting outbox: " << s.message();
  }
}

// WatchdogLoop enforces the whole-request timeouts. It reads the steady
// clock and sleeps in real time on purpose, not through clock_: it bounds
// real network I/O, which a fake clock would never time out.
void AlertDispatcher::WatchdogLoop() {
  while (!stopping_) {
    const auto now = std::chrono::steady_clock::now();
    {
      absl::ReaderMutexLock lock(&workers_mu_);
      for (auto& w : workers_) w->CheckOverdue(now);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

void AlertDispatcher::Notify(const Alert& alert) {
  absl::MutexLock lock(&notify_mu_);
  absl::ReaderMutexLock workers(&workers_mu_);
  if (workers_.empty()) return;
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
  for (size_t i = 0; i < workers_.size(); ++i)
    MarkDone(workers_[i]->Enqueue(std::move(entries[i])));
}

bool AlertDispatcher::WaitIdle(absl::Duration timeout) {
  const absl::Time deadline = clock_->Now() + timeout;
  while (true) {
    bool idle = true;
    {
      absl::ReaderMutexLock lock(&workers_mu_);
      for (auto& w : workers_) idle = idle && w->Idle();
    }
    if (idle) return true;
    if (clock_->Now() >= deadline) return false;
    // A real-time poll interval only; the timeout is on clock_.
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

size_t AlertDispatcher::Pending() const {
  absl::ReaderMutexLock lock(&workers_mu_);
  size_t n = 0;
  for (const auto& w : workers_) n += w->Depth();
  return n;
}

}  // namespace pgwarden
