#include "remediation/object_access.h"

#include <algorithm>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "core/log.h"
#include "core/target_id.h"

namespace pgwarden {
namespace {

// $1, $2: the watched tables' schemas and names, as text[]. Catalog reads
// only: has_schema_privilege and has_table_privilege by oid never raise.
constexpr char kPrivilegesSql[] =
    "SELECT n.nspname, c.relname, has_schema_privilege(n.oid, 'USAGE'), "
    "  has_table_privilege(c.oid, 'SELECT'), current_user::text "
    "FROM unnest($1::text[], $2::text[]) AS w(s, t) "
    "JOIN pg_namespace n ON n.nspname = w.s "
    "JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = w.t "
    "ORDER BY 1, 2";

std::string Members(const ObjectError& e) {
  std::string out;
  for (const TableRef& t : e.tables) {
    absl::StrAppend(&out, out.empty() ? "" : ", ", t.schema, ".", t.table);
  }
  return out;
}

}  // namespace

nlohmann::json ObjectError::ToJson() const {
  nlohmann::json t = nlohmann::json::array();
  for (const TableRef& r : tables) t.push_back(absl::StrCat(r.schema, ".", r.table));
  return {{"kind", kind},   {"name", name},       {"privilege", privilege},
          {"error", error}, {"grant", grant_sql}, {"tables", t}};
}

std::string TextArray(const std::vector<std::string>& items) {
  std::string out = "{";
  for (size_t i = 0; i < items.size(); ++i) {
    absl::StrAppend(&out, i ? "," : "", "\"",
                    absl::StrReplaceAll(items[i], {{"\\", "\\\\"}, {"\"", "\\\""}}), "\"");
  }
  return out + "}";
}

absl::StatusOr<std::vector<ObjectError>> FindUnreadable(pg::Session& conn,
                                                        const std::vector<TableRef>& watched) {
  std::vector<ObjectError> out;
  if (watched.empty()) return out;
  std::vector<std::string> schemas;
  std::vector<std::string> tables;
  for (const TableRef& t : watched) {
    schemas.push_back(t.schema);
    tables.push_back(t.table);
  }
  absl::StatusOr<pg::Result> r =
      conn.Query(kPrivilegesSql, {TextArray(schemas), TextArray(tables)});
  if (!r.ok()) return r.status();
  for (const pg::Row& row : *r) {
    const std::string schema = row.Text(0);
    const std::string table = row.Text(1);
    const std::string me = conn.QuoteName(row.Text(4));
    if (!row.Bool(2)) {
      if (out.empty() || out.back().kind != "schema" || out.back().name != schema) {
        out.push_back(
            {"schema",
             schema,
             "USAGE",
             absl::StrCat("permission denied for schema ", schema),
             absl::StrCat("GRANT USAGE ON SCHEMA ", conn.QuoteName(schema), " TO ", me, ";"),
             {}});
      }
      out.back().tables.push_back({schema, table});
    } else if (!row.Bool(3)) {
      out.push_back(
          {"table",
           absl::StrCat(schema, ".", table),
           "SELECT",
           absl::StrCat("permission denied for table ", table),
           absl::StrCat("GRANT SELECT ON ", conn.QualifiedName(schema, table), " TO ", me, ";"),
           {{schema, table}}});
    }
  }
  return out;
}

ObjectErrors& ObjectErrors::Get() {
  static ObjectErrors* instance = new ObjectErrors();
  return *instance;
}

void ObjectErrors::Attach(const std::string& target,
                          prometheus::Family<prometheus::Counter>* errors,
                          prometheus::Family<prometheus::Counter>* own_rollbacks) {
  absl::MutexLock lock(&mu_);
  families_[target] = errors;
  for (const char* kind : {"schema", "table"}) {
    errors->Add(TargetLabels(target, "object_kind", kind));
  }
  own_[target].counter = &own_rollbacks->Add(TargetLabels(target));
}

void ObjectErrors::SetOwnRollbacks(const std::string& target, int64_t total) {
  absl::MutexLock lock(&mu_);
  Mirrored& m = own_[target];
  if (m.counter != nullptr && total > m.last) {
    m.counter->Increment(static_cast<double>(total - m.last));
  }
  m.last = total;
}

std::vector<ObjectError> ObjectErrors::Update(const std::string& target,
                                              std::vector<ObjectError> now) {
  std::sort(now.begin(), now.end());
  absl::MutexLock lock(&mu_);
  std::vector<ObjectError>& before = current_[target];
  std::vector<ObjectError> added;
  for (const ObjectError& e : now) {
    if (std::binary_search(before.begin(), before.end(), e)) continue;
    added.push_back(e);
    ++counts_[target];
    PGW_LOG(Warning) << "target " << target << ": cannot read " << e.kind << " " << e.name << " ("
                     << e.error << "): the session guard cannot measure uncommitted writes on "
                     << Members(e)
                     << " (statements and locks are still watched); fix: " << e.grant_sql;
    auto f = families_.find(target);
    if (f != families_.end()) {
      f->second->Add(TargetLabels(target, "object_kind", e.kind)).Increment();
    }
  }
  for (const ObjectError& e : before) {
    if (!std::binary_search(now.begin(), now.end(), e)) {
      PGW_LOG(Info) << "target " << target << ": " << e.kind << " " << e.name
                    << " is readable again";
    }
  }
  before = std::move(now);
  return added;
}

nlohmann::json ObjectErrors::Json(const std::string& target) const {
  absl::MutexLock lock(&mu_);
  nlohmann::json j = nlohmann::json::array();
  auto it = current_.find(target);
  if (it == current_.end()) return j;
  for (const ObjectError& e : it->second) j.push_back(e.ToJson());
  return j;
}

int64_t ObjectErrors::Count(const std::string& target) const {
  absl::MutexLock lock(&mu_);
  auto it = counts_.find(target);
  return it == counts_.end() ? 0 : it->second;
}

}  // namespace pgwarden
