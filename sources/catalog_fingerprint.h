#ifndef PGWARDEN_SOURCES_CATALOG_FINGERPRINT_H_
#define PGWARDEN_SOURCES_CATALOG_FINGERPRINT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "pg/session.h"

namespace pgwarden {

// ColumnPrint is one pg_attribute row of a watched table.
struct ColumnPrint {
  int attnum = 0;
  std::string name;
  int64_t type_oid = 0;
  int typmod = -1;
  bool dropped = false;
  // type is format_type(type, typmod), for the page.
  std::string type;
};

// TablePrint is the shape of one watched table: its file and its columns
// (ordered by attnum).
struct TablePrint {
  int64_t oid = 0;
  std::string schema;
  std::string table;
  int64_t relfilenode = 0;
  std::vector<ColumnPrint> columns;
};

// CatalogFingerprint is the shape of the watched tables at one time, and
// the schemas of the database then.
struct CatalogFingerprint {
  absl::flat_hash_map<int64_t, TablePrint> tables;
  absl::flat_hash_set<std::string> schemas;
  absl::Time time;
};

// ReadCatalogFingerprint reads the columns of the tables `oids` (one query
// for all) and the database's schema names (one more).
absl::StatusOr<CatalogFingerprint> ReadCatalogFingerprint(pg::Session& session,
                                                          const std::vector<int64_t>& oids,
                                                          absl::Time now);

// ReadSchemas reads the database's schema names (for the DROP SCHEMA check
// on the tick tables vanish).
absl::StatusOr<absl::flat_hash_set<std::string>> ReadSchemas(pg::Session& session);

}  // namespace pgwarden

#endif  // PGWARDEN_SOURCES_CATALOG_FINGERPRINT_H_
