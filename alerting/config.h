#ifndef PGWARDEN_ALERTING_CONFIG_H_
#define PGWARDEN_ALERTING_CONFIG_H_

#include <cstddef>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "core/config_node.h"

namespace pgwarden {

// kPagerDutyDefaultUrl is PagerDuty's public Events v2 endpoint, used when a
// pagerduty sink gives no `url`.
inline constexpr char kPagerDutyDefaultUrl[] = "https://events.pagerduty.com/v2/enqueue";

// SinkConfig is one entry of `alerting.sinks`:
//
//   - name: oncall              # unique; the `sink` label of the metrics
//     type: pagerduty           # pagerduty | alertmanager | slack | webhook
//     url: https://...          # pagerduty (default: PagerDuty's endpoint), slack, webhook;
//                               # alertmanager: base URL (http://am:9093) or .../api/v2/alerts
//     urls: [http://am1:9093, http://am2:9093]   # alertmanager only: every instance
//     routing_key: "..."        # pagerduty only (or routing_key_env / routing_key_file)
//     hmac_secret: "..."        # webhook only, optional (or hmac_secret_env / _file):
//                               # adds X-Pgwarden-Signature: sha256=<hex>
//     timeout: 10s              # whole request
//     connect_timeout: 5s       # default: alerting.connect_timeout
//     retry_initial: 1s         # first retry delay; doubles per attempt, with jitter
//     retry_max: 30s            # cap of the retry delay
//     retry_after_max: 5m       # cap of a 429 Retry-After we honour
//     resend_interval: 60s      # alertmanager only: re-send firing alerts this often
//     resolve_resend_for: 5m    # alertmanager only: keep re-sending a resolve this long
struct SinkConfig {
  std::string name;
  std::string type;
  // urls has one element, except for alertmanager with several instances.
  std::vector<std::string> urls;
  std::string routing_key;
  std::string hmac_secret;
  absl::Duration timeout = absl::Seconds(10);
  absl::Duration connect_timeout = absl::Seconds(5);
  absl::Duration retry_initial = absl::Seconds(1);
  absl::Duration retry_max = absl::Seconds(30);
  absl::Duration retry_after_max = absl::Minutes(5);
  absl::Duration resend_interval = absl::Seconds(60);
  absl::Duration resolve_resend_for = absl::Minutes(5);
};

// AlertingConfig is the `alerting:` section:
//
//   alerting:
//     connect_timeout: 5s         # default for every sink
//     outbox_max_entries: 10000   # pending entries kept per sink; when full the
//                                 # oldest pending entry of that sink is dropped
//                                 # (counted as result="dropped", logged)
//     sinks: [...]                # see SinkConfig
struct AlertingConfig {
  std::vector<SinkConfig> sinks;
  absl::Duration connect_timeout = absl::Seconds(5);
  size_t outbox_max_entries = 10000;
};

// ParseAlertingConfig fills *out from the `alerting:` section; errors are
// recorded in node.errors() with their key path (unknown keys, wrong types,
// missing url/routing key, duplicate sink names, unknown type). An absent
// section leaves the defaults (no sinks).
void ParseAlertingConfig(const ConfigNode& node, AlertingConfig* out);

// ParsedUrl is an http(s) URL split for the HTTP client.
struct ParsedUrl {
  std::string scheme;  // "http" or "https"
  std::string host;    // without brackets for IPv6
  int port = 0;
  std::string path;  // starts with '/', includes any query
  // SchemeHostPort is "scheme://host:port" (the httplib::Client argument).
  std::string SchemeHostPort() const;
  // Redacted is "scheme://host:port" without path or query, safe to log (a
  // Slack webhook path is a secret).
  std::string Redacted() const { return SchemeHostPort(); }
};

// ParseUrl accepts http:// and https:// URLs with a host; false otherwise.
bool ParseUrl(absl::string_view url, ParsedUrl* out);

}  // namespace pgwarden

#endif  // PGWARDEN_ALERTING_CONFIG_H_
