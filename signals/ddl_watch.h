#ifndef PGWARDEN_SIGNALS_DDL_WATCH_H_
#define PGWARDEN_SIGNALS_DDL_WATCH_H_

#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/time/time.h"
#include "signals/signal_event.h"
#include "sources/catalog_fingerprint.h"

namespace pgwarden {

// CompareFingerprints turns two fingerprints of the watched tables into
// destructive_ddl events: a column dropped (attisdropped set), and a type
// change that rewrote the table (relfilenode and a column's type both
// changed). ADD COLUMN, CREATE INDEX and VACUUM FULL (a new file, the same
// types) give none; tables in only one of the two give none (DROP TABLE is
// TargetWatch's drop_table).
std::vector<SignalEvent> CompareFingerprints(const CatalogFingerprint& before,
                                             const CatalogFingerprint& after);

// GroupSchemaDrops replaces the drop_table events of `events` whose schema
// is not in `schemas` (the database's schemas now) with one destructive_ddl
// event per vanished schema, naming the tables it took (DROP SCHEMA ...
// CASCADE is one incident, not one per table).
void GroupSchemaDrops(const absl::flat_hash_set<std::string>& schemas, absl::Time now,
                      std::vector<SignalEvent>* events);

// DatabaseDropped is the destructive_ddl event for a watched database that
// no longer exists (reconnecting failed with SQLSTATE 3D000).
SignalEvent DatabaseDropped(const std::string& database, const std::string& message,
                            absl::Time now);

// IsDatabaseMissing is true for a connect error saying the database does not
// exist.
bool IsDatabaseMissing(const std::string& message);

}  // namespace pgwarden

#endif  // PGWARDEN_SIGNALS_DDL_WATCH_H_
