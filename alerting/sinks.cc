#include "alerting/sinks.h"

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "alerting/payloads.h"
#include "alerting/sink_registry.h"

namespace pgwarden {

absl::optional<absl::Duration> ParseRetryAfter(const std::string& value, absl::Time now) {
  std::string v(absl::StripAsciiWhitespace(value));
  if (v.empty()) return absl::nullopt;
  int64_t secs = 0;
  if (absl::SimpleAtoi(v, &secs)) {
    if (secs < 0) return absl::nullopt;
    return absl::Seconds(secs);
  }
  absl::Time t;
  std::string err;
  // IMF-fixdate, e.g. "Wed, 21 Oct 2015 07:28:00 GMT".
  if (absl::ParseTime("%a, %d %b %Y %H:%M:%S GMT", v, absl::UTCTimeZone(), &t, &err)) {
    return std::max(absl::ZeroDuration(), t - now);
  }
  return absl::nullopt;
}

DeliveryOutcome ClassifyHttp(const HttpResponse& response, absl::Time now) {
  DeliveryOutcome out;
  if (response.status == 0) {
    out.result = DeliveryResult::kRetry;
    out.message = response.error;
    return out;
  }
  const int s = response.status;
  const std::string answer = MakeValidUtf8(absl::StripAsciiWhitespace(response.body), 512);
  out.message = absl::StrCat("HTTP ", s, answer.empty() ? "" : ": ", answer);
  if (s >= 200 && s < 300) {
    out.result = DeliveryResult::kOk;
  } else if (s == 429 || s == 408 || s >= 500) {
    out.result = DeliveryResult::kRetry;
    if (s == 429 || s == 503) out.retry_after = ParseRetryAfter(response.retry_after, now);
  } else {
    out.result = DeliveryResult::kFailed;
  }
  return out;
}

absl::StatusOr<std::unique_ptr<Sink>> MakeSink(const SinkConfig& config, Clock* clock) {
  if (config.urls.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("sink ", config.name, ": no url"));
  }
  for (const std::string& u : config.urls) {
    ParsedUrl p;
    if (!ParseUrl(u, &p)) {
      return absl::InvalidArgumentError(absl::StrCat("sink ", config.name, ": not an http(s) URL"));
    }
  }
  const SinkType* type = FindSinkType(config.type);
  if (type == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("sink ", config.name, ": unknown type '", config.type, "'"));
  }
  for (const SinkSecret& secret : type->secrets) {
    if (secret.required && (config.*secret.field).empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "sink ", config.name, ": no ", absl::StrReplaceAll(secret.key, {{"_", " "}})));
    }
  }
  return type->make(config, clock);
}

}  // namespace pgwarden
