#include "incidents/grouping.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "signals/recovery.h"
#include "signals/table_watch.h"

namespace pgwarden {
namespace {

int64_t IntOr(const nlohmann::json& j, const char* key, int64_t fallback) {
  if (!j.contains(key) || !j[key].is_number()) return fallback;
  return j[key].get<int64_t>();
}

// RoleOfAttribution is the top culprit of an attributor's figures when it
// did something to the rows (not a role that merely was connected).
std::string RoleOfAttribution(const nlohmann::json& a) {
  if (a.value("source", "") == "server_log") return a.value("role", "");
  if (!a.contains("culprits") || !a["culprits"].is_array() || a["culprits"].empty()) return "";
  const nlohmann::json& top = a["culprits"][0];
  const bool acted = IntOr(top, "rows_attributed", 0) > 0 || IntOr(top, "truncates", 0) > 0 ||
                     IntOr(top, "rows_updated", 0) > 0 || top.value("in_flight", false);
  return acted ? top.value("role", "") : "";
}

}  // namespace

std::string ObjectOf(const SignalEvent& ev) {
  if (!ev.table.empty()) return absl::StrCat(ev.schema, ".", ev.table);
  return ev.schema.empty() ? std::string("database") : absl::StrCat("schema ", ev.schema);
}

std::string CulpritOf(const SignalEvent& ev) {
  const nlohmann::json& f = ev.figures;
  if (f.contains("attribution") && f["attribution"].is_object()) {
    std::string role = RoleOfAttribution(f["attribution"]);
    if (!role.empty()) return role;
  }
  // A session guard finding names the session it is about.
  if ((ev.kind == SignalKind::kDestructiveInFlight || ev.kind == SignalKind::kDestructiveDdl) &&
      f.contains("session") && f["session"].is_object()) {
    return f["session"].value("role", "");
  }
  return "";
}

bool IsAftermath(SignalKind kind) {
  return kind == SignalKind::kRollbackRatio || kind == SignalKind::kFailedLogins;
}

void AddMember(const SignalEvent& ev, Incident* inc) {
  IncidentMember& m = inc->members[ObjectOf(ev)];
  m.schema = ev.schema;
  m.table = ev.table;
  m.kinds.insert(ev.kind);
  m.last_fired = std::max(m.last_fired, ev.time);
  const nlohmann::json& f = ev.figures;
  if (ev.kind == SignalKind::kUpdateSpike) m.rows_updated = IntOr(f, "updated_in_burst", 0);
  const int64_t before = std::max(IntOr(f, "rows_before", -1), IntOr(f, "rows_baseline", -1));
  const int64_t now = IntOr(f, "rows_now", -1);
  if (before < 0 || now < 0) return;
  if (f.contains("partition") && f["partition"].is_string()) {
    auto [it, added] = m.partitions.try_emplace(f["partition"].get<std::string>(), before, now);
    if (!added) it->second = {std::max(it->second.first, before), now};
    m.rows_before = 0;
    m.rows_now = 0;
    for (const auto& [name, rows] : m.partitions) {
      m.rows_before += rows.first;
      m.rows_now += rows.second;
    }
    return;
  }
  m.rows_before = std::max(m.rows_before, before);
  m.rows_now = now;
}

nlohmann::json TablesJson(const Incident& inc) {
  std::vector<std::pair<std::string, const IncidentMember*>> members;
  for (const auto& [object, m] : inc.members) members.emplace_back(object, &m);
  std::stable_sort(members.begin(), members.end(), [](const auto& a, const auto& b) {
    return a.second->RowsLost() > b.second->RowsLost();
  });
  nlohmann::json out = nlohmann::json::array();
  for (const auto& [object, m] : members) {
    nlohmann::json j = {{"object", object}, {"kinds", KindNames(m->kinds)}};
    if (m->rows_before >= 0) {
      j["rows_before"] = m->rows_before;
      j["rows_now"] = m->rows_now;
      j["rows_lost"] = m->RowsLost();
    }
    if (m->rows_updated > 0) j["rows_updated"] = m->rows_updated;
    if (!m->partitions.empty()) j["partitions"] = m->partitions.size();
    out.push_back(std::move(j));
  }
  return out;
}

std::string GroupSummary(const Incident& inc) {
  std::vector<std::pair<int64_t, std::string>> losses;  // (rows lost, object)
  int64_t total = 0;
  int64_t updated = 0;
  int objects = 0;
  for (const auto& [object, m] : inc.members) {
    if (m.table.empty() && !IsDestructive(*m.kinds.begin())) continue;  // aftermath
    ++objects;
    total += m.RowsLost();
    updated += m.rows_updated;
    losses.emplace_back(m.RowsLost(), object);
  }
  // One object, or no rows counted (schema changes): the most severe
  // event's own description says it better.
  if (objects < 2 || (total == 0 && updated == 0)) return "";
  std::stable_sort(losses.begin(), losses.end(),
                   [](const auto& a, const auto& b) { return a.first > b.first; });
  std::vector<std::string> largest;
  for (const auto& [lost, object] : losses) {
    if (largest.size() == 3) {
      largest.emplace_back("...");
      break;
    }
    largest.push_back(lost > 0 ? absl::StrCat(object, " ", FormatCount(lost)) : object);
  }
  std::string what;
  if (total > 0 || updated == 0) what = absl::StrCat("deleted ", FormatCount(total), " rows");
  if (updated > 0) {
    absl::StrAppend(&what, what.empty() ? "" : " and ", "overwrote ", FormatCount(updated),
                    " rows");
  }
  const std::string tables = absl::StrCat(objects, " tables (", absl::StrJoin(largest, ", "), ")");
  if (inc.role.empty()) return absl::StrCat(tables, ": ", what, " by an unknown role");
  return absl::StrCat("role ", inc.role, " ", what, " from ", tables);
}

void MergeRecovery(const std::string& object, const nlohmann::json& point, Incident* inc) {
  if (!point.is_object()) return;
  nlohmann::json& rec = inc->details["recovery"];
  if (!rec.is_object()) rec = nlohmann::json::object();
  nlohmann::json& mine = rec["by_table"][object];
  const bool exact = point.value("exact", false);
  const bool was_exact = mine.is_object() && mine.value("exact", false);
  if (!mine.is_object() || (exact && !was_exact) ||
      (exact == was_exact && EarlierRecovery(point, mine))) {
    mine = point;
  }
  const nlohmann::json* best = nullptr;
  for (const auto& [obj, p] : rec["by_table"].items()) {
    if (best == nullptr || EarlierRecovery(p, *best)) best = &p;
  }
  nlohmann::json top = *best;
  top["by_table"] = std::move(rec["by_table"]);
  rec = std::move(top);
}

}  // namespace pgwarden
