#include "alerting/payloads.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "core/target_id.h"

namespace pgwarden {

namespace {

constexpr char kReplacement[] = "\xEF\xBF\xBD";

// SequenceLength returns the length of the well-formed UTF-8 sequence at
// s[i], or 0 if the bytes there are not one.
size_t SequenceLength(absl::string_view s, size_t i) {
  auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  auto cont = [&](size_t k) { return k < s.size() && (b(k) & 0xC0) == 0x80; };
  const unsigned char c = b(i);
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF) return cont(i + 1) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    if (!cont(i + 1) || !cont(i + 2)) return 0;
    const unsigned char c1 = b(i + 1);
    if (c == 0xE0 && c1 < 0xA0) return 0;  // overlong
    if (c == 0xED && c1 > 0x9F) return 0;  // surrogates
    return 3;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (!cont(i + 1) || !cont(i + 2) || !cont(i + 3)) return 0;
    const unsigned char c1 = b(i + 1);
    if (c == 0xF0 && c1 < 0x90) return 0;  // overlong
    if (c == 0xF4 && c1 > 0x8F) return 0;  // > U+10FFFF
    return 4;
  }
  return 0;
}

// CutAtBoundary returns the longest prefix of valid UTF-8 `s` of at most
// `max_bytes` bytes that ends on a code point boundary.
absl::string_view CutAtBoundary(absl::string_view s, size_t max_bytes) {
  if (s.size() <= max_bytes) return s;
  size_t end = max_bytes;
  while (end > 0 && (static_cast<unsigned char>(s[end]) & 0xC0) == 0x80) --end;
  return s.substr(0, end);
}

std::string SeverityOf(const Alert& a) { return SeverityName(a.severity); }

}  // namespace

bool IsValidUtf8(absl::string_view s) {
  for (size_t i = 0; i < s.size();) {
    size_t n = SequenceLength(s, i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

std::string MakeValidUtf8(absl::string_view in, size_t max_bytes) {
  std::string out;
  out.reserve(std::min(in.size(), max_bytes == std::string::npos ? in.size() : max_bytes) + 3);
  for (size_t i = 0; i < in.size();) {
    size_t n = SequenceLength(in, i);
    if (n == 0) {
      out.append(kReplacement);
      ++i;
    } else {
      out.append(in.data() + i, n);
      i += n;
    }
    if (max_bytes != std::string::npos && out.size() > max_bytes + 8) break;  // enough to cut
  }
  if (max_bytes == std::string::npos || out.size() <= max_bytes) return out;
  if (max_bytes < 3) return std::string(CutAtBoundary(out, max_bytes));
  std::string cut(CutAtBoundary(out, max_bytes - 3));
  cut.append("...");
  return cut;
}

std::string DumpJson(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string FormatIso8601(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", t, absl::UTCTimeZone());
}

nlohmann::json BuildPagerDutyEvent(const Alert& alert, const std::string& routing_key) {
  const bool trigger = alert.action == AlertAction::kTrigger;
  nlohmann::json event = {
      {"routing_key", routing_key},
      {"event_action", trigger ? "trigger" : "resolve"},
      {"dedup_key", MakeValidUtf8(alert.dedup_key, 255)},
  };
  if (!trigger) return event;
  event["client"] = "pgwarden";
  nlohmann::json links = nlohmann::json::array();
  for (const AlertLink& l : alert.links) {
    links.push_back({{"href", MakeValidUtf8(l.href, 2048)}, {"text", MakeValidUtf8(l.text, 256)}});
  }
  if (!links.empty()) event["links"] = links;
  std::string summary = alert.summary.empty()
                            ? absl::StrCat(alert.target, " ", alert.object, " ", alert.kind)
                            : alert.summary;
  nlohmann::json payload = {
      {"summary", MakeValidUtf8(summary, kPagerDutySummaryMaxBytes)},
      {"source", MakeValidUtf8(alert.source.empty() ? "pgwarden" : alert.source, 255)},
      {"severity", SeverityOf(alert)},
      {"timestamp", FormatIso8601(alert.timestamp)},
  };
  if (!alert.object.empty()) payload["component"] = MakeValidUtf8(alert.object, 255);
  if (!alert.target.empty()) payload["group"] = MakeValidUtf8(alert.target, 255);
  if (!alert.kind.empty()) payload["class"] = MakeValidUtf8(alert.kind, 255);
  nlohmann::json details =
      alert.details.is_object() ? alert.details : nlohmann::json{{"details", alert.details}};
  details["environment"] = alert.environment;
  details["incident_id"] = alert.incident_id;
  payload["custom_details"] = nlohmann::json::object();
  event["payload"] = payload;
  // Everything but the details, plus a margin for the key and separators.
  const size_t base = DumpJson(event).size() + 64;
  const size_t budget = kPagerDutyMaxEventBytes > base ? kPagerDutyMaxEventBytes - base : 0;
  std::string details_text = DumpJson(details);
  if (details_text.size() <= budget) {
    // Round trip through text so that invalid UTF-8 inside is replaced.
    event["payload"]["custom_details"] = nlohmann::json::parse(details_text);
  } else {
    size_t excerpt_bytes = budget / 2;
    for (int i = 0; i < 16; ++i) {
      nlohmann::json cut = {{"truncated", true},
                            {"original_bytes", details_text.size()},
                            {"environment", alert.environment},
                            {"incident_id", alert.incident_id},
                            {"excerpt", MakeValidUtf8(details_text, excerpt_bytes)}};
      if (DumpJson(cut).size() <= budget || excerpt_bytes == 0) {
        event["payload"]["custom_details"] = cut;
        break;
      }
      excerpt_bytes /= 2;
    }
  }
  return event;
}

nlohmann::json AlertmanagerLabels(const Alert& alert) {
  nlohmann::json labels = {
      {"alertname", "PgwardenIncident"},
      {"environment", MakeValidUtf8(alert.environment, 256)},
      {"object", MakeValidUtf8(alert.object, 256)},
      {"severity", SeverityOf(alert)},
      {"dedup_key", MakeValidUtf8(alert.dedup_key, 256)},
      // incident: the same on every agent (the dedup key), so that
      // Alertmanager groups by it across agents.
      {"incident", MakeValidUtf8(alert.dedup_key, 256)},
  };
  // target and, for a database of a server target, database (as on metrics).
  for (const auto& [k, v] : TargetLabels(alert.target)) labels[k] = MakeValidUtf8(v, 256);
  if (!alert.role.empty()) labels["role"] = MakeValidUtf8(alert.role, 256);
  return labels;
}

nlohmann::json BuildAlertmanagerAlert(const nlohmann::json& labels, const Alert& alert,
                                      absl::Time starts_at, absl::Time ends_at) {
  nlohmann::json a = {
      {"labels", labels},
      {"annotations",
       {{"summary", MakeValidUtf8(alert.summary, kPagerDutySummaryMaxBytes)},
        {"kind", MakeValidUtf8(alert.kind, 256)},
        {"description", MakeValidUtf8(DumpJson(alert.details), 4096)}}},
      {"startsAt", FormatIso8601(starts_at)},
      {"endsAt", FormatIso8601(std::max(ends_at, starts_at))},
  };
  if (!alert.links.empty()) a["generatorURL"] = MakeValidUtf8(alert.links.front().href, 2048);
  return a;
}

nlohmann::json BuildSlackMessage(const Alert& alert) {
  const bool trigger = alert.action == AlertAction::kTrigger;
  const std::string summary = MakeValidUtf8(alert.summary, 2900);
  const std::string text =
      MakeValidUtf8(absl::StrCat(trigger ? "" : "RESOLVED: ", alert.summary), 2900);
  const std::string header =
      MakeValidUtf8(absl::StrCat(trigger ? ":rotating_light: " : ":white_check_mark: ",
                                 trigger ? SeverityOf(alert) : "resolved", ": ", alert.kind, " on ",
                                 alert.target),
                    150);
  auto field = [](const char* name, const std::string& value) {
    return nlohmann::json{{"type", "mrkdwn"},
                          {"text", MakeValidUtf8(absl::StrCat("*", name, "*\n", value), 1900)}};
  };
  nlohmann::json blocks = nlohmann::json::array();
  blocks.push_back({{"type", "header"}, {"text", {{"type", "plain_text"}, {"text", header}}}});
  blocks.push_back({{"type", "section"}, {"text", {{"type", "mrkdwn"}, {"text", summary}}}});
  blocks.push_back(
      {{"type", "section"},
       {"fields",
        {field("Environment", alert.environment), field("Target", alert.target),
         field("Object", alert.object), field("Kind", alert.kind),
         field("Severity", SeverityOf(alert)),
         field("Incident", absl::StrCat(alert.incident_id, " (", alert.dedup_key, ")"))}}});
  if (alert.details.is_object() && !alert.details.empty()) {
    std::string details = MakeValidUtf8(
        alert.details.dump(2, ' ', false, nlohmann::json::error_handler_t::replace), 2800);
    blocks.push_back(
        {{"type", "section"},
         {"text", {{"type", "mrkdwn"}, {"text", absl::StrCat("```", details, "```")}}}});
  }
  if (!alert.links.empty()) {
    std::string links;
    for (const AlertLink& l : alert.links) {
      absl::StrAppend(&links, links.empty() ? "" : " | ", "<", l.href, "|",
                      l.text.empty() ? l.href : l.text, ">");
    }
    blocks.push_back({{"type", "context"},
                      {"elements", {{{"type", "mrkdwn"}, {"text", MakeValidUtf8(links, 2900)}}}}});
  }
  return {{"text", text}, {"blocks", blocks}};
}

nlohmann::json BuildWebhookBody(const Alert& alert, const std::string& delivery_id) {
  nlohmann::json links = nlohmann::json::array();
  for (const AlertLink& l : alert.links) links.push_back({{"href", l.href}, {"text", l.text}});
  return {
      {"version", 1},
      {"delivery_id", delivery_id},
      {"action", alert.action == AlertAction::kTrigger ? "trigger" : "resolve"},
      {"dedup_key", alert.dedup_key},
      {"summary", MakeValidUtf8(alert.summary, kPagerDutySummaryMaxBytes)},
      {"severity", SeverityOf(alert)},
      {"environment", alert.environment},
      {"source", alert.source},
      {"target", alert.target},
      {"object", alert.object},
      {"kind", alert.kind},
      {"incident_id", alert.incident_id},
      {"timestamp", FormatIso8601(alert.timestamp)},
      {"details", alert.details},
      {"links", links},
  };
}

std::string HmacSha256Hex(absl::string_view key, absl::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest, &len);
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(static_cast<size_t>(len) * 2);
  for (unsigned int i = 0; i < len; ++i) {
    out.push_back(kHex[digest[i] >> 4]);
    out.push_back(kHex[digest[i] & 0xF]);
  }
  return out;
}

}  // namespace pgwarden
