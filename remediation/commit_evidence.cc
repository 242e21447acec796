#include "remediation/commit_evidence.h"

#include <algorithm>
#include <map>

#include "absl/strings/str_cat.h"

namespace pgwarden {

std::vector<CommitEvidence> CommitEvidenceFromFigures(const nlohmann::json& figures) {
  std::vector<CommitEvidence> out;
  if (figures.contains("suspect") && figures["suspect"].is_object()) {
    const nlohmann::json& s = figures["suspect"];
    CommitEvidence e;
    e.role = s.value("role", "");
    e.rows = s.value("rows_before", int64_t{0}) - s.value("rows_now", int64_t{0});
    e.pid = s.value("pid", 0);
    e.application = s.value("application", "");
    e.client = s.value("client", "");
    e.in_flight = true;
    e.evidence =
        absl::StrCat("pg_stat_activity: pid ", e.pid, " commits inside one statement (xid changed ",
                     s.value("xid_changes", 0), " times); row count probe");
    if (!e.role.empty()) out.push_back(std::move(e));
  }
  if (!figures.contains("evidence") || !figures["evidence"].is_object()) return out;
  const nlohmann::json& ev = figures["evidence"];
  const std::string source = ev.value("source", "");
  const std::string verb = ev.value("verb", "deleted");  // or "updated" (update_spike)
  std::map<std::string, const nlohmann::json*> session_of;
  if (ev.contains("committed_by")) {
    for (const nlohmann::json& s : ev["committed_by"]) session_of[s.value("role", "")] = &s;
  }
  if (!ev.contains("rows_by_role")) return out;
  for (const auto& [role, rows] : ev["rows_by_role"].items()) {
    if (role == "(unknown)" || !rows.is_number_integer()) continue;
    CommitEvidence e;
    e.role = role;
    e.rows = rows.get<int64_t>();
    auto s = session_of.find(role);
    if (s != session_of.end()) {
      e.pid = s->second->value("pid", 0);
      e.application = s->second->value("application", "");
      e.client = s->second->value("client", "");
    }
    e.evidence =
        source == "change_stream"
            ? absl::StrCat("change stream: ", e.rows, " rows ", verb,
                           " by committed transactions whose xid a session "
                           "of the role held")
            : absl::StrCat(source, ": ", e.rows, " rows ", verb, " by the role's statements");
    out.push_back(std::move(e));
  }
  return out;
}

void MergeCommitEvidence(const std::vector<CommitEvidence>& evidence, Attribution* a) {
  if (evidence.empty()) return;
  for (const CommitEvidence& e : evidence) {
    auto it = std::find_if(a->culprits.begin(), a->culprits.end(),
                           [&](const Culprit& c) { return c.role == e.role; });
    if (it == a->culprits.end()) {
      Culprit c;
      c.role = e.role;
      a->culprits.push_back(std::move(c));
      it = a->culprits.end() - 1;
    }
    Culprit& c = *it;
    if (e.rows > c.rows_attributed) {
      a->rows_attributed += e.rows - c.rows_attributed;
      c.rows_attributed = e.rows;
    }
    if (e.pid != 0 && std::find(c.pids.begin(), c.pids.end(), e.pid) == c.pids.end()) {
      c.pids.push_back(e.pid);
    }
    if (c.application.empty()) c.application = e.application;
    if (c.client.empty()) c.client = e.client;
    c.in_flight = c.in_flight || e.in_flight;
    if (std::find(c.evidence.begin(), c.evidence.end(), e.evidence) == c.evidence.end()) {
      c.evidence.push_back(e.evidence);
    }
  }
  const int64_t denominator = a->rows_dropped > 0 ? a->rows_dropped : a->rows_attributed;
  for (Culprit& c : a->culprits) {
    if (c.rows_attributed > 0 && denominator > 0) {
      c.confidence = std::max(c.confidence, std::min(1.0, static_cast<double>(c.rows_attributed) /
                                                              static_cast<double>(denominator)));
    }
  }
  std::stable_sort(a->culprits.begin(), a->culprits.end(), [](const Culprit& x, const Culprit& y) {
    return x.rows_attributed > y.rows_attributed;
  });
  if (a->rows_attributed > 0 && denominator > 0) {
    a->confidence = std::max(a->confidence, std::min(1.0, static_cast<double>(a->rows_attributed) /
                                                              static_cast<double>(denominator)));
  }
}

}  // namespace pgwarden
