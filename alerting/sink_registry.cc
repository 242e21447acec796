// The one place where alert sink types are registered (no static
// initialisers): the config reader and MakeSink derive what they accept
// from kSinkTypes.
#include "alerting/sink_registry.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "alerting/http_sinks.h"

namespace pgwarden {
namespace {

constexpr SinkSecret kPagerDutySecrets[] = {
    {"routing_key", /*required=*/true, &SinkConfig::routing_key},
};
constexpr SinkSecret kWebhookSecrets[] = {
    {"hmac_secret", /*required=*/false, &SinkConfig::hmac_secret},
};

constexpr SinkType kSinkTypes[] = {
    {"pagerduty", kPagerDutyDefaultUrl, /*multi_url=*/false, /*resends=*/false, kPagerDutySecrets,
     NewPagerDutySink},
    {"alertmanager", nullptr, /*multi_url=*/true, /*resends=*/true, {}, NewAlertmanagerSink},
    {"slack", nullptr, /*multi_url=*/false, /*resends=*/false, {}, NewSlackSink},
    {"webhook", nullptr, /*multi_url=*/false, /*resends=*/false, kWebhookSecrets, NewWebhookSink},
};

}  // namespace

absl::Span<const SinkType> SinkTypes() { return kSinkTypes; }

const SinkType* FindSinkType(absl::string_view name) {
  for (const SinkType& t : kSinkTypes) {
    if (name == t.name) return &t;
  }
  return nullptr;
}

std::string SinkTypeList() {
  std::vector<absl::string_view> names;
  for (const SinkType& t : kSinkTypes) names.push_back(t.name);
  if (names.size() < 2) return absl::StrJoin(names, "");
  const absl::string_view last = names.back();
  names.pop_back();
  return absl::StrCat(absl::StrJoin(names, ", "), " or ", last);
}

std::string SinkTypesWhere(absl::FunctionRef<bool(const SinkType&)> pred) {
  std::vector<absl::string_view> names;
  for (const SinkType& t : kSinkTypes) {
    if (pred(t)) names.push_back(t.name);
  }
  return absl::StrJoin(names, " or ");
}

const SinkSecret* FindSecret(const SinkType& type, absl::string_view key) {
  for (const SinkSecret& s : type.secrets) {
    if (key == s.key) return &s;
  }
  return nullptr;
}

}  // namespace pgwarden
