#include "signals/ddl_log.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "remediation/sql_text.h"

namespace pgwarden {
namespace {

// kShownBytes bounds the statement quoted in a page's description.
constexpr size_t kShownBytes = 200;

bool Contains(const std::vector<std::string>& names, const std::string& name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

bool SameDatabase(const LoggedStatement& s, const std::string& database) {
  return s.database.empty() || database.empty() || s.database == database;
}

// Explains: whether statement `s` can have made the change `ev` reports.
bool Explains(const LoggedStatement& s, const SignalEvent& ev, const std::string& database) {
  const std::string change = ev.figures.value("change", "");
  if (change == "drop_database") {
    return Contains(FindDroppedObjects(s.statement, "database"),
                    ev.figures.value("database", database));
  }
  if (!SameDatabase(s, database)) return false;
  if (change == "drop_schema")
    return Contains(FindDroppedObjects(s.statement, "schema"), ev.schema);
  if (change != "drop_column" && change != "alter_column_type") return false;
  const absl::string_view verb = change == "drop_column" ? "DROP" : "ALTER";
  for (const TableAlter& a : FindDestructiveAlters(s.statement)) {
    if (RefersTo(a.table, ev.schema, ev.table) && absl::StartsWith(a.what, verb)) return true;
  }
  return false;
}

}  // namespace

bool DdlLog::Add(const LoggedStatement& s, absl::Time now, const std::string& database,
                 const std::vector<TableRef>& watched) {
  const std::vector<TableAlter> alters = FindDestructiveAlters(s.statement);
  const std::vector<std::string> schemas = FindDroppedObjects(s.statement, "schema");
  if (alters.empty() && schemas.empty() && FindDroppedObjects(s.statement, "database").empty()) {
    return false;
  }
  while (!kept_.empty() && (kept_.size() >= kMax || now - kept_.front().at > keep_)) {
    kept_.pop_front();
  }
  kept_.push_back(Kept{s, now});
  if (!SameDatabase(s, database)) return false;
  for (const TableRef& w : watched) {
    if (Contains(schemas, w.schema)) return true;
    for (const TableAlter& a : alters) {
      if (RefersTo(a.table, w.schema, w.table)) return true;
    }
  }
  return false;
}

const LoggedStatement* DdlLog::Explain(const SignalEvent& ev, const std::string& database) const {
  for (auto it = kept_.rbegin(); it != kept_.rend(); ++it) {
    if (ev.time - it->at > keep_) break;
    if (Explains(it->statement, ev, database)) return &it->statement;
  }
  return nullptr;
}

std::string DdlLog::Attribute(SignalEvent* ev, const std::string& database) const {
  const LoggedStatement* s = Explain(*ev, database);
  if (s == nullptr) return "";
  ev->figures["attribution"] = {{"source", "server_log"},
                                {"role", s->user},
                                {"database", s->database},
                                {"statement", s->statement}};
  std::string shown = s->statement.substr(0, kShownBytes);
  if (shown.size() < s->statement.size()) shown += "...";
  absl::StrAppend(&ev->description, s->user.empty() ? "" : absl::StrCat("; by role ", s->user),
                  " (server log: ", shown, ")");
  return s->user;
}

}  // namespace pgwarden
