#include "signals/ddl_watch.h"

#include <map>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace pgwarden {

namespace {
SignalEvent TableDdlEvent(const TablePrint& t, absl::Time now) {
  SignalEvent ev;
  ev.kind = SignalKind::kDestructiveDdl;
  ev.schema = t.schema;
  ev.table = t.table;
  ev.oid = t.oid;
  ev.severity = Severity::kCritical;
  ev.time = now;
  return ev;
}

const ColumnPrint* FindColumn(const TablePrint& t, int attnum) {
  for (const ColumnPrint& c : t.columns) {
    if (c.attnum == attnum) return &c;
  }
  return nullptr;
}

void CompareTable(const TablePrint& before, const TablePrint& after, absl::Time now,
                  std::vector<SignalEvent>* out) {
  std::vector<std::string> dropped;
  std::vector<std::string> retyped;
  for (const ColumnPrint& old : before.columns) {
    if (old.dropped) continue;
    const ColumnPrint* cur = FindColumn(after, old.attnum);
    if (cur == nullptr || cur->dropped) {
      dropped.push_back(old.name);
    } else if (cur->type_oid != old.type_oid || cur->typmod != old.typmod) {
      retyped.push_back(absl::StrCat(old.name, " ", old.type, " -> ", cur->type));
    }
  }
  const std::string name = absl::StrCat(after.schema, ".", after.table);
  if (!dropped.empty()) {
    SignalEvent ev = TableDdlEvent(after, now);
    ev.description =
        absl::StrCat("column", dropped.size() > 1 ? "s " : " ", absl::StrJoin(dropped, ", "),
                     " of table ", name, " dropped (ALTER TABLE ... DROP COLUMN)");
    ev.figures = {{"change", "drop_column"}, {"columns", dropped}};
    out->push_back(std::move(ev));
  }
  // A type change without a new file (varchar(10) -> text) kept the data.
  if (!retyped.empty() && after.relfilenode != before.relfilenode) {
    SignalEvent ev = TableDdlEvent(after, now);
    ev.description = absl::StrCat("table ", name, " rewritten by a column type change (",
                                  absl::StrJoin(retyped, ", "), ")");
    ev.figures = {{"change", "alter_column_type"},
                  {"columns", retyped},
                  {"relfilenode_before", before.relfilenode},
                  {"relfilenode_now", after.relfilenode}};
    out->push_back(std::move(ev));
  }
}
}  // namespace

std::vector<SignalEvent> CompareFingerprints(const CatalogFingerprint& before,
                                             const CatalogFingerprint& after) {
  std::vector<SignalEvent> out;
  for (const auto& [oid, t] : after.tables) {
    auto it = before.tables.find(oid);
    if (it != before.tables.end()) CompareTable(it->second, t, after.time, &out);
  }
  return out;
}

void GroupSchemaDrops(const absl::flat_hash_set<std::string>& schemas, absl::Time now,
                      std::vector<SignalEvent>* events) {
  std::map<std::string, std::vector<std::string>> gone;  // schema -> tables
  std::vector<SignalEvent> kept;
  kept.reserve(events->size());
  for (SignalEvent& ev : *events) {
    if (ev.kind == SignalKind::kDropTable && !schemas.contains(ev.schema)) {
      gone[ev.schema].push_back(ev.table);
    } else {
      kept.push_back(std::move(ev));
    }
  }
  for (auto& [schema, tables] : gone) {
    SignalEvent ev;
    ev.kind = SignalKind::kDestructiveDdl;
    ev.schema = schema;
    ev.severity = Severity::kCritical;
    ev.time = now;
    ev.description =
        absl::StrCat("schema ", schema, " dropped with its ", tables.size(), " watched table",
                     tables.size() > 1 ? "s" : "", " (", absl::StrJoin(tables, ", "), ")");
    ev.figures = {{"change", "drop_schema"}, {"tables", tables}};
    kept.push_back(std::move(ev));
  }
  *events = std::move(kept);
}

SignalEvent DatabaseDropped(const std::string& database, const std::string& message,
                            absl::Time now) {
  SignalEvent ev;
  ev.kind = SignalKind::kDestructiveDdl;
  ev.severity = Severity::kCritical;
  ev.time = now;
  ev.description = absl::StrCat("database ", database, " was dropped (", message, ")");
  ev.figures = {{"change", "drop_database"}, {"database", database}};
  return ev;
}

bool IsDatabaseMissing(const std::string& message) {
  return absl::StrContains(message, "3D000") || (absl::StrContains(message, "database \"") &&
                                                 absl::StrContains(message, "does not exist"));
}

}  // namespace pgwarden
