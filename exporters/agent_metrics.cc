#include "exporters/agent_metrics.h"

#include "core/version.h"

namespace pgwarden {

using prometheus::BuildCounter;
using prometheus::BuildGauge;
using prometheus::BuildHistogram;

AgentMetrics::AgentMetrics(prometheus::Registry& registry, const std::string& environment)
    : up(BuildGauge()
             .Name("pgwarden_up")
             .Help("1 when the last sample of the target succeeded, else 0.")
             .Labels({{"environment", environment}})
             .Register(registry)),
      anomaly_score(BuildGauge()
                        .Name("pgwarden_anomaly_score")
                        .Help("Anomaly score in [0,1] of a watched series at the last sample.")
                        .Labels({{"environment", environment}})
                        .Register(registry)),
      incidents(BuildCounter()
                    .Name("pgwarden_incidents_total")
                    .Help("Incidents opened, by the kind that opened them.")
                    .Labels({{"environment", environment}})
                    .Register(registry)),
      incident_active(BuildGauge()
                          .Name("pgwarden_incident_active")
                          .Help("Incidents currently open, by kind (1 while one is open).")
                          .Labels({{"environment", environment}})
                          .Register(registry)),
      sample_duration(BuildHistogram()
                          .Name("pgwarden_sample_duration_seconds")
                          .Help("Time taken by one sample of a target (queries and detection).")
                          .Labels({{"environment", environment}})
                          .Register(registry)),
      sample_errors(BuildCounter()
                        .Name("pgwarden_sample_errors_total")
                        .Help("Samples that failed, by reason (connect | query).")
                        .Labels({{"environment", environment}})
                        .Register(registry)),
      xact_commit(BuildCounter()
                      .Name("pgwarden_database_xact_commit_total")
                      .Help("Transactions committed in the target database (pg_stat_database).")
                      .Labels({{"environment", environment}})
                      .Register(registry)),
      xact_rollback(BuildCounter()
                        .Name("pgwarden_database_xact_rollback_total")
                        .Help("Transactions rolled back in the target database (pg_stat_database).")
                        .Labels({{"environment", environment}})
                        .Register(registry)),
      failed_logins(BuildCounter()
                        .Name("pgwarden_failed_logins_total")
                        .Help("Failed connection attempts read from the server log, by reason "
                              "(password, authentication, no_hba_entry, hba_reject, "
                              "no_such_role, no_such_database).")
                        .Labels({{"environment", environment}})
                        .Register(registry)),
      tables_watched(BuildGauge()
                         .Name("pgwarden_tables_watched")
                         .Help("Tables of the target matched by the include/exclude globs.")
                         .Labels({{"environment", environment}})
                         .Register(registry)),
      wal_archived(BuildCounter()
                       .Name("pgwarden_wal_archived_total")
                       .Help("WAL segments the target's server archived (pg_stat_archiver).")
                       .Labels({{"environment", environment}})
                       .Register(registry)),
      wal_archive_failures(BuildCounter()
                               .Name("pgwarden_wal_archive_failures_total")
                               .Help("Failed WAL archive attempts of the target's server "
                                     "(pg_stat_archiver).")
                               .Labels({{"environment", environment}})
                               .Register(registry)),
      wal_archive_last_success(BuildGauge()
                                   .Name("pgwarden_wal_archive_last_success_timestamp_seconds")
                                   .Help("When the target's server last archived a WAL segment "
                                         "(unix seconds; 0: never).")
                                   .Labels({{"environment", environment}})
                                   .Register(registry)),
      wal_archive_enabled(BuildGauge()
                              .Name("pgwarden_wal_archive_enabled")
                              .Help("1 when archive_mode is on for the target's server.")
                              .Labels({{"environment", environment}})
                              .Register(registry)),
      journal_bytes(BuildGauge()
                        .Name("pgwarden_journal_bytes")
                        .Help("Bytes of the row journal (deleted rows kept for pgwarden restore).")
                        .Labels({{"environment", environment}})
                        .Register(registry)),
      journal_rows(BuildCounter()
                       .Name("pgwarden_journal_rows_total")
                       .Help("Deleted rows written to the row journal.")
                       .Labels({{"environment", environment}})
                       .Register(registry)),
      journal_dropped(BuildCounter()
                          .Name("pgwarden_journal_dropped_total")
                          .Help("Journalled rows removed by journal.max_bytes / journal.max_age.")
                          .Labels({{"environment", environment}})
                          .Register(registry)),
      suppressed(BuildCounter()
                     .Name("pgwarden_signals_suppressed_total")
                     .Help("Detector alerts not paged, by reason (maintenance, allowed_role, "
                           "unconfirmed, counter_reset).")
                     .Labels({{"environment", environment}})
                     .Register(registry)),
      change_stream_up(BuildGauge()
                           .Name("pgwarden_change_stream_up")
                           .Help("1 while the target's change stream (logical decoding) is "
                                 "streaming; 0 when enabled and not streaming.")
                           .Labels({{"environment", environment}})
                           .Register(registry)),
      change_stream_lag(BuildGauge()
                            .Name("pgwarden_change_stream_lag_bytes")
                            .Help("WAL written by the server and not yet confirmed by the "
                                  "agent's replication slot, in bytes.")
                            .Labels({{"environment", environment}})
                            .Register(registry)),
      change_stream_retained(BuildGauge()
                                 .Name("pgwarden_change_stream_retained_wal_bytes")
                                 .Help("WAL the agent's replication slot keeps on the server "
                                       "(current LSN minus the slot's restart_lsn), in bytes.")
                                 .Labels({{"environment", environment}})
                                 .Register(registry)),
      change_stream_changes(BuildCounter()
                                .Name("pgwarden_change_stream_changes_total")
                                .Help("Committed row changes decoded on watched tables, by op "
                                      "(insert, update, delete, truncate); counted once across "
                                      "restarts.")
                                .Labels({{"environment", environment}})
                                .Register(registry)),
      change_stream_gaps(BuildCounter()
                             .Name("pgwarden_change_stream_gaps_total")
                             .Help("Times the replication slot was invalidated by the server "
                                   "and recreated: changes in between were not seen.")
                             .Labels({{"environment", environment}})
                             .Register(registry)),
      object_errors(BuildCounter()
                        .Name("pgwarden_object_errors_total")
                        .Help("Watched objects found unreadable by the agent's role "
                              "(object_kind schema: no USAGE; table: no SELECT), each counted "
                              "once when first seen; listed in /status and by pgwarden check.")
                        .Labels({{"environment", environment}})
                        .Register(registry)),
      own_rollbacks(BuildCounter()
                        .Name("pgwarden_own_rollbacks_total")
                        .Help("Transactions the agent's own failed statements rolled back in "
                              "the target database; subtracted from the rollback ratio.")
                        .Labels({{"environment", environment}})
                        .Register(registry)),
      fast_tick_duration(BuildHistogram()
                             .Name("pgwarden_fast_tick_duration_seconds")
                             .Help("Time of one fast tick (change stream, statement counters, "
                                   "session guard) per target.")
                             .Labels({{"environment", environment}})
                             .Register(registry)),
      build_info(BuildGauge()
                     .Name("pgwarden_build_info")
                     .Help("Always 1; the version label names the running build.")
                     .Labels({{"environment", environment}})
                     .Register(registry)),
      const_labels_({{"environment", environment}}) {
  build_info.Add({{"version", kPgwardenVersion}}).Set(1);
}

prometheus::Histogram::BucketBoundaries AgentMetrics::SampleDurationBuckets() {
  return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5};
}

}  // namespace pgwarden
