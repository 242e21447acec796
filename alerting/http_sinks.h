#ifndef PGWARDEN_ALERTING_HTTP_SINKS_H_
#define PGWARDEN_ALERTING_HTTP_SINKS_H_

#include <memory>

#include "alerting/config.h"
#include "alerting/sinks.h"
#include "core/clock.h"

namespace pgwarden {

// The sinks below post JSON over HTTP(S) to every URL of their config; they
// are registered in alerting/sink_registry.cc and built through MakeSink,
// which checks the config first.

// NewPagerDutySink sends Events v2 (routing_key required).
std::unique_ptr<Sink> NewPagerDutySink(const SinkConfig& config, Clock* clock);

// NewAlertmanagerSink posts to /api/v2/alerts of every instance and keeps
// firing alerts alive by re-sending them every resend_interval.
std::unique_ptr<Sink> NewAlertmanagerSink(const SinkConfig& config, Clock* clock);

// NewSlackSink posts to a Slack incoming webhook.
std::unique_ptr<Sink> NewSlackSink(const SinkConfig& config, Clock* clock);

// NewWebhookSink sends the generic JSON schema, HMAC-signed if hmac_secret
// is set.
std::unique_ptr<Sink> NewWebhookSink(const SinkConfig& config, Clock* clock);

}  // namespace pgwarden

#endif  // PGWARDEN_ALERTING_HTTP_SINKS_H_
