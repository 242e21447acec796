#include "sources/catalog_fingerprint.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace pgwarden {

namespace {
constexpr char kColumnsSql[] =
    "SELECT c.oid, n.nspname, c.relname, c.relfilenode, a.attnum, a.attname, a.atttypid,"
    " a.atttypmod, a.attisdropped, format_type(a.atttypid, a.atttypmod)"
    " FROM pg_catalog.pg_class c"
    " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
    " JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0"
    " WHERE c.oid = ANY($1::oid[])"
    " ORDER BY c.oid, a.attnum";
constexpr char kSchemasSql[] = "SELECT nspname FROM pg_catalog.pg_namespace";
}  // namespace

absl::StatusOr<absl::flat_hash_set<std::string>> ReadSchemas(pg::Session& session) {
  absl::StatusOr<pg::Result> res = session.Query(kSchemasSql);
  if (!res.ok()) {
    return absl::Status(res.status().code(),
                        absl::StrCat("reading schema names: ", res.status().message()));
  }
  absl::flat_hash_set<std::string> out;
  for (const pg::Row& row : *res) out.insert(row.Text(0));
  return out;
}

absl::StatusOr<CatalogFingerprint> ReadCatalogFingerprint(pg::Session& session,
                                                          const std::vector<int64_t>& oids,
                                                          absl::Time now) {
  CatalogFingerprint fp;
  fp.time = now;
  const std::string array = absl::StrCat("{", absl::StrJoin(oids, ","), "}");
  absl::StatusOr<pg::Result> res = session.Query(kColumnsSql, {array});
  if (!res.ok()) {
    return absl::Status(res.status().code(), absl::StrCat("reading the watched tables' columns: ",
                                                          res.status().message()));
  }
  for (const pg::Row& row : *res) {
    TablePrint& t = fp.tables[row.Int(0)];
    if (t.oid == 0) {
      t.oid = row.Int(0);
      t.schema = row.Text(1);
      t.table = row.Text(2);
      t.relfilenode = row.Int(3);
    }
    ColumnPrint c;
    c.attnum = static_cast<int>(row.Int(4));
    c.name = row.Text(5);
    c.type_oid = row.Int(6);
    c.typmod = static_cast<int>(row.Int(7, -1));
    c.dropped = row.Bool(8);
    c.type = row.Text(9);
    t.columns.push_back(std::move(c));
  }
  absl::StatusOr<absl::flat_hash_set<std::string>> schemas = ReadSchemas(session);
  if (!schemas.ok()) return schemas.status();
  fp.schemas = *std::move(schemas);
  return fp;
}

}  // namespace pgwarden
