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

nlohmann::json MemberJson(const IncidentMember& m) {
  return {{"schema", m.schema},          {"table", m.table},
          {"kinds", KindNames(m.kinds)}, {"rows_before", m.rows_before},
          {"rows_now", m.rows_now},      {"rows_updated", m.rows_updated},
          {"partitions", m.partitions},  {"last_fired_unix_ms", absl::ToUnixMillis(m.last_fired)}};
}

absl::StatusOr<IncidentMember> MemberFrom(const nlohmann::json& j) {
  IncidentMember m;
  m.schema = j.at("schema").get<std::string>();
  m.table = j.at("table").get<std::string>();
  for (const nlohmann::json& k : j.at("kinds")) {
    absl::StatusOr<SignalKind> one = KindFrom(k);
    if (!one.ok()) return one.status();
    m.kinds.insert(*one);
  }
  m.rows_before = j.at("rows_before").get<int64_t>();
  m.rows_now = j.at("rows_now").get<int64_t>();
  m.rows_updated = j.at("rows_updated").get<int64_t>();
  if (j.contains("partitions")) {
    m.partitions = j.at("partitions").get<std::map<std::string, std::pair<int64_t, int64_t>>>();
  }
  m.last_fired = absl::FromUnixMillis(j.at("last_fired_unix_ms").get<int64_t>());
  return m;
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
                      {"role", inc.role},
                      {"kind", SignalKindName(inc.kind)},
                      {"kinds", KindNames(inc.kinds)},
                      {"severity", SeverityName(inc.severity)},
                      {"open", inc.open},
                      {"opened", Rfc3339(inc.opened)},
                      {"last_fired", Rfc3339(inc.last_fired)},
                      {"summary", inc.note.empty() ? inc.summary : inc.summary + "; " + inc.note},
                      {"details", inc.details}};
  if (!inc.open) j["resolved"] = Rfc3339(inc.resolved_at);
  nlohmann::json tables = nlohmann::json::array();
  for (const auto& [object, m] : inc.members) {
    if (m.table.empty()) continue;
    tables.push_back({{"object", object},
                      {"schema", m.schema},
                      {"table", m.table},
                      {"rows_before", m.rows_before},
                      {"rows_now", m.rows_now},
                      {"rows_lost", m.RowsLost()}});
  }
  j["tables"] = std::move(tables);
  return j;
}

nlohmann::json StateJson(const Incident& inc) {
  nlohmann::json members = nlohmann::json::object();
  for (const auto& [object, m] : inc.members) members[object] = MemberJson(m);
  return {{"id", inc.id},
          {"role", inc.role},
          {"members", members},
          {"last_destructive_unix_ms", inc.last_destructive == absl::InfinitePast()
                                           ? int64_t{0}
                                           : absl::ToUnixMillis(inc.last_destructive)},
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
          {"note", inc.note},
          {"resolved_unix_ms", inc.open ? int64_t{0} : absl::ToUnixMillis(inc.resolved_at)},
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
    // Written since incidents group by culprit; absent in older state files.
    inc.role = j.value("role", std::string());
    inc.note = j.value("note", std::string());
    const int64_t resolved_ms = j.value("resolved_unix_ms", int64_t{0});
    if (resolved_ms > 0) {
      inc.open = false;
      inc.resolved_at = absl::FromUnixMillis(resolved_ms);
    }
    if (j.contains("members")) {
      for (const auto& [object, mj] : j.at("members").items()) {
        absl::StatusOr<IncidentMember> m = MemberFrom(mj);
        if (!m.ok()) return m.status();
        inc.members.emplace(object, *std::move(m));
      }
    }
    if (inc.members.empty()) {
      IncidentMember& m = inc.members[inc.object];
      m.schema = inc.schema;
      m.table = inc.table;
      m.kinds = inc.kinds;
      m.last_fired = inc.last_fired;
    }
    const int64_t last_destructive = j.value("last_destructive_unix_ms", int64_t{0});
    if (last_destructive > 0) inc.last_destructive = absl::FromUnixMillis(last_destructive);
    return inc;
  } catch (const nlohmann::json::exception& e) {
    return absl::InvalidArgumentError(e.what());
  }
}

}  // namespace pgwarden
