#ifndef PGWARDEN_SIGNALS_SIGNAL_EVENT_H_
#define PGWARDEN_SIGNALS_SIGNAL_EVENT_H_

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/optional.h"
#include "alerting/alert.h"
#include "nlohmann/json.hpp"

namespace pgwarden {

// SignalKind is what fired: the table and database signals of TargetWatch
// and the session guard's findings.
enum class SignalKind {
  kRowLoss,
  kDeleteSpike,
  kTruncate,
  kDropTable,
  kRollbackRatio,
  kFailedLogins,
  kDestructiveInFlight,
  kIdleInTransaction,
  kLongStatement,
  kBlocking,
  // kCoverageGap: a source lost changes (the server invalidated the change
  // stream's replication slot); what happened meanwhile was not seen.
  kCoverageGap,
  // kUpdateSpike: rows of a table updated far above its own usual rate (a
  // mass overwrite, e.g. a script rewriting a column in batches).
  kUpdateSpike,
  // kDestructiveDdl: a schema change that destroys data of a watched table
  // (a dropped column, a rewriting type change, DROP SCHEMA ... CASCADE,
  // DROP DATABASE), committed or in flight.
  kDestructiveDdl,
  // kWalArchive: the server's WAL archive is failing or stale while WAL is
  // written: a point-in-time restore would lose data.
  kWalArchive,
};

// kAllSignalKinds lists every kind, in declaration order.
inline constexpr SignalKind kAllSignalKinds[] = {
    SignalKind::kRowLoss,
    SignalKind::kDeleteSpike,
    SignalKind::kTruncate,
    SignalKind::kDropTable,
    SignalKind::kRollbackRatio,
    SignalKind::kFailedLogins,
    SignalKind::kDestructiveInFlight,
    SignalKind::kIdleInTransaction,
    SignalKind::kLongStatement,
    SignalKind::kBlocking,
    SignalKind::kCoverageGap,
    SignalKind::kUpdateSpike,
    SignalKind::kDestructiveDdl,
    SignalKind::kWalArchive,
};

// SignalKindName returns the kind's name ("row_loss", "delete_spike", ...):
// the `kind` label of incident metrics and the name in pages and state.
const char* SignalKindName(SignalKind kind);

// ParseSignalKind is the inverse of SignalKindName.
absl::optional<SignalKind> ParseSignalKind(absl::string_view name);

// RemovesRows is true for the kinds that mean rows were removed: row loss,
// delete spike and TRUNCATE (the ones attribution explains).
bool RemovesRows(SignalKind kind);

// IsDestructive is true for the kinds that mean data was (or is being)
// destroyed: rows removed or overwritten, tables dropped, destructive DDL,
// a destructive statement in flight.
bool IsDestructive(SignalKind kind);

// SignalEvent is one detector (or structural check) firing on one object.
struct SignalEvent {
  SignalKind kind = SignalKind::kRowLoss;
  // schema/table are empty for database-wide signals.
  std::string schema;
  std::string table;
  int64_t oid = 0;
  Severity severity = Severity::kCritical;
  double score = 1.0;
  // description is one human sentence ("lost 5,000 of 200,000 rows ...").
  std::string description;
  nlohmann::json figures = nlohmann::json::object();
  absl::Time time;
};

}  // namespace pgwarden

#endif  // PGWARDEN_SIGNALS_SIGNAL_EVENT_H_
