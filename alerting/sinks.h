#ifndef PGWARDEN_ALERTING_SINKS_H_
#define PGWARDEN_ALERTING_SINKS_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/optional.h"
#include "alerting/config.h"
#include "alerting/http_client.h"
#include "alerting/outbox.h"
#include "core/clock.h"

namespace pgwarden {

// DeliveryResult classifies one delivery attempt.
enum class DeliveryResult {
  kOk,      // the receiver accepted the alert (2xx)
  kRetry,   // transient: transport error, timeout, 408, 429, 5xx
  kFailed,  // permanent: any other answer (4xx); not retried
};

// DeliveryOutcome is the result of one attempt with what to log.
struct DeliveryOutcome {
  DeliveryResult result = DeliveryResult::kRetry;
  // retry_after is set from a 429/503 Retry-After header.
  absl::optional<absl::Duration> retry_after;
  // message says what happened (status and the receiver's answer, truncated);
  // never contains a secret.
  std::string message;
};

// ClassifyHttp maps an HTTP answer to a DeliveryOutcome; `now` is used to
// read an HTTP-date Retry-After.
DeliveryOutcome ClassifyHttp(const HttpResponse& response, absl::Time now);

// ParseRetryAfter reads a Retry-After value (delta seconds or HTTP-date).
absl::optional<absl::Duration> ParseRetryAfter(const std::string& value, absl::Time now);

// Sink delivers alerts to one receiver. Deliver is called from the sink's
// own worker thread only.
class Sink {
 public:
  virtual ~Sink() = default;
  // Deliver makes one attempt to hand `entry` to the receiver.
  virtual DeliveryOutcome Deliver(const OutboxEntry& entry, RequestGuard* guard) = 0;
  // NextResend is when Resend wants to run (InfiniteFuture: never).
  virtual absl::Time NextResend() const { return absl::InfiniteFuture(); }
  // Resend re-sends state the receiver needs refreshed (Alertmanager: firing
  // alerts and recent resolves); best effort.
  virtual void Resend(absl::Time /*now*/, RequestGuard* /*guard*/) {}
};

// MakeSink builds the sink for `config`, whose type must be one of
// SinkTypes() (alerting/sink_registry.h: pagerduty, alertmanager, slack or
// webhook); it checks the URLs and the type's required secrets first.
absl::StatusOr<std::unique_ptr<Sink>> MakeSink(const SinkConfig& config, Clock* clock);

}  // namespace pgwarden

#endif  // PGWARDEN_ALERTING_SINKS_H_
