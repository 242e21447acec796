#ifndef PGWARDEN_ALERTING_PAYLOADS_H_
#define PGWARDEN_ALERTING_PAYLOADS_H_

#include <cstddef>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "alerting/alert.h"
#include "nlohmann/json.hpp"

namespace pgwarden {

// kPagerDutySummaryMaxBytes caps payload.summary (PagerDuty: 1024 characters;
// we count bytes, which is stricter).
inline constexpr size_t kPagerDutySummaryMaxBytes = 1024;
// kPagerDutyMaxEventBytes is PagerDuty's limit for a whole event (512 KB).
inline constexpr size_t kPagerDutyMaxEventBytes = size_t{512} * 1024;

// MakeValidUtf8 returns `in` with every invalid UTF-8 byte sequence replaced
// by U+FFFD, cut on a code point boundary to at most `max_bytes` bytes
// (ending with "..." when cut).
std::string MakeValidUtf8(absl::string_view in, size_t max_bytes = std::string::npos);

// IsValidUtf8 reports whether `s` is well-formed UTF-8.
bool IsValidUtf8(absl::string_view s);

// DumpJson serialises `j` compactly, replacing invalid UTF-8 in strings with
// U+FFFD instead of throwing.
std::string DumpJson(const nlohmann::json& j);

// FormatIso8601 is RFC 3339 in UTC with milliseconds ("2024-05-01T10:00:00.123Z").
std::string FormatIso8601(absl::Time t);

// BuildPagerDutyEvent is the PagerDuty Events v2 body for `alert`:
// routing_key, event_action (trigger|resolve), dedup_key, client, links, and
// for a trigger payload{summary (<= 1024 bytes, valid UTF-8), source,
// severity (critical|error|warning|info), timestamp (ISO 8601), component
// (object), group (target), class (kind), custom_details (details plus
// environment and incident_id; replaced by a truncated excerpt when the whole
// event would exceed 512 KB)}.
nlohmann::json BuildPagerDutyEvent(const Alert& alert, const std::string& routing_key);

// AlertmanagerLabels are the identifying labels of one Alertmanager alert:
// alertname (PgwardenIncident), environment, target (and database), object,
// severity, dedup_key, incident and, once known, role. They must stay the
// same from trigger to resolve and be the same on every agent watching the
// database, so that Alertmanager sees one alert: nothing agent-local (host,
// incident number, which detector fired first: `kind`) is a label.
nlohmann::json AlertmanagerLabels(const Alert& alert);

// BuildAlertmanagerAlert is one element of the POST /api/v2/alerts array:
// labels, annotations{summary, kind, description}, startsAt, endsAt, generatorURL
// (the first link, if any).
nlohmann::json BuildAlertmanagerAlert(const nlohmann::json& labels, const Alert& alert,
                                      absl::Time starts_at, absl::Time ends_at);

// BuildSlackMessage is a Slack incoming-webhook body: `text` fallback plus
// readable `blocks` (header, summary, fields, details excerpt, links).
nlohmann::json BuildSlackMessage(const Alert& alert);

// BuildWebhookBody is the generic JSON webhook body (schema version 1):
//
//   {
//     "version": 1,
//     "delivery_id": "<unique per outbox entry; the same on every retry>",
//     "action": "trigger" | "resolve",
//     "dedup_key": "<stable per incident>",
//     "summary": "<one line, valid UTF-8, <= 1024 bytes>",
//     "severity": "critical" | "error" | "warning" | "info",
//     "environment": "...", "source": "...", "target": "...",
//     "object": "...", "kind": "...", "incident_id": 42,
//     "timestamp": "2024-05-01T10:00:00.000Z",
//     "details": { ... },
//     "links": [ {"href": "...", "text": "..."} ]
//   }
//
// When the sink has an hmac_secret the request carries
// `X-Pgwarden-Signature: sha256=<lowercase hex HMAC-SHA256 of the raw body>`;
// every request carries `X-Pgwarden-Delivery: <delivery_id>`.
nlohmann::json BuildWebhookBody(const Alert& alert, const std::string& delivery_id);

// HmacSha256Hex is the lowercase hex HMAC-SHA256 of `data` under `key`.
std::string HmacSha256Hex(absl::string_view key, absl::string_view data);

}  // namespace pgwarden

#endif  // PGWARDEN_ALERTING_PAYLOADS_H_
