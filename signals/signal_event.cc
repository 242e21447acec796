#include "signals/signal_event.h"

namespace pgwarden {

const char* SignalKindName(SignalKind kind) {
  switch (kind) {
    case SignalKind::kRowLoss:
      return "row_loss";
    case SignalKind::kDeleteSpike:
      return "delete_spike";
    case SignalKind::kTruncate:
      return "truncate";
    case SignalKind::kDropTable:
      return "drop_table";
    case SignalKind::kRollbackRatio:
      return "rollback_ratio";
    case SignalKind::kFailedLogins:
      return "failed_logins";
    case SignalKind::kDestructiveInFlight:
      return "destructive_in_flight";
    case SignalKind::kIdleInTransaction:
      return "idle_in_transaction";
    case SignalKind::kLongStatement:
      return "long_statement";
    case SignalKind::kBlocking:
      return "blocking";
    case SignalKind::kCoverageGap:
      return "coverage_gap";
    case SignalKind::kUpdateSpike:
      return "update_spike";
    case SignalKind::kDestructiveDdl:
      return "destructive_ddl";
    case SignalKind::kWalArchive:
      return "wal_archive";
  }
  return "?";
}

absl::optional<SignalKind> ParseSignalKind(absl::string_view name) {
  for (SignalKind k : kAllSignalKinds) {
    if (name == SignalKindName(k)) return k;
  }
  return absl::nullopt;
}

bool RemovesRows(SignalKind kind) {
  return kind == SignalKind::kRowLoss || kind == SignalKind::kDeleteSpike ||
         kind == SignalKind::kTruncate;
}

bool IsDestructive(SignalKind kind) {
  switch (kind) {
    case SignalKind::kRowLoss:
    case SignalKind::kDeleteSpike:
    case SignalKind::kTruncate:
    case SignalKind::kDropTable:
    case SignalKind::kDestructiveInFlight:
    case SignalKind::kUpdateSpike:
    case SignalKind::kDestructiveDdl:
      return true;
    default:
      return false;
  }
}

}  // namespace pgwarden
