#include "incidents/incident.h"

#include "absl/strings/str_cat.h"

namespace pgwarden {
namespace {

std::string Rfc3339(absl::Time t) {
  return absl::FormatTime(absl::RFC3339_sec, t, absl::UTCTimeZone());
}

absl::StatusOr<SignalKind> KindFrom(const nlohmann::json& j) {
  const std::string name = j.get<std::string>();
  absl::optional<SignalKind> kind = ParseSignalKind(name);
  if (!kind) return absl::InvalidArgumentError(absl::StrCat("unknown kind \"", name, "\""));
  return *kind;
}

}  // namespace

nlohmann::json KindNames(const std::set<SignalKind>& kinds) {
  std::set<std::string> names;  // alphabetical, as pages and state always listed them
  for (SignalKind k : kinds) names.insert(SignalKindName(k));
  return names;
}

nlohmann::json StatusJson(const Incident& inc) {
  nlohmann::json j = {{"id", inc.id},
                      {"dedup_key", inc.dedup_key},
                      {"target", inc.target},
                      {"object", inc.object},
                      {"kind", SignalKindName(inc.kind)},
                      {"kinds", KindNames(inc.kinds)},
                      {"severity", SeverityName(inc.severity)},
                      {"open", inc.open},
                      {"opened", Rfc3339(inc.opened)},
                      {"last_fired", Rfc3339(inc.last_fired)},
                      {"summary", inc.summary},
                      {"details", inc.details}};
  if (!inc.open) j["resolved"] = Rfc3339(inc.resolved_at);
  return j;
}

nlohmann::json StateJson(const Incident& inc) {
  return {{"id", inc.id},
          {"dedup_key", inc.dedup_key},
          {"target", inc.target},
          {"schema", inc.schema},
          {"table", inc.table},
          {"object", inc.object},
          {"kind", SignalKindName(inc.kind)},
          {"kinds", KindNames(inc.kinds)},
          {"severity", SeverityName(inc.severity)},
          {"opened_unix_ms", absl::ToUnixMillis(inc.opened)},
          {"last_fired_unix_ms", absl::ToUnixMillis(inc.last_fired)},
          {"events", inc.events},
          {"summary", inc.summary},
          {"details", inc.details}};
}

absl::StatusOr<Incident> FromStateJson(const nlohmann::json& j) {
  try {
    Incident inc;
    inc.id = j.at("id").get<int64_t>();
    inc.dedup_key = j.at("dedup_key").get<std::string>();
    inc.target = j.at("target").get<std::string>();
    inc.schema = j.at("schema").get<std::string>();
    inc.table = j.at("table").get<std::string>();
    inc.object = j.at("object").get<std::string>();
    absl::StatusOr<SignalKind> kind = KindFrom(j.at("kind"));
    if (!kind.ok()) return kind.status();
    inc.kind = *kind;
    for (const nlohmann::json& k : j.at("kinds")) {
      absl::StatusOr<SignalKind> one = KindFrom(k);
      if (!one.ok()) return one.status();
      inc.kinds.insert(*one);
    }
    if (!SeverityFromName(j.at("severity").get<std::string>(), &inc.severity)) {
      return absl::InvalidArgumentError(absl::StrCat("unknown severity ", j.at("severity").dump()));
    }
    inc.opened = absl::FromUnixMillis(j.at("opened_unix_ms").get<int64_t>());
    inc.last_fired = absl::FromUnixMillis(j.at("last_fired_unix_ms").get<int64_t>());
    inc.events = j.at("events").get<int64_t>();
    inc.summary = j.at("summary").get<std::string>();
    inc.details = j.at("details");
    return inc;
  } catch (const nlohmann::json::exception& e) {
    return absl::InvalidArgumentError(e.what());
  }
}

}  // namespace pgwarden
