// `pgwarden recovery INCIDENT_ID --config FILE`: the postgresql.conf lines
// of a point-in-time restore that leaves the incident's damage out, and the
// checks to make before promoting. Reads the agent's state file only.

#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "agent/config.h"
#include "cmd/cli.h"
#include "cmd/incident_file.h"
#include "incidents/incident.h"

namespace pgwarden {
namespace {

void PrintRecovery(const Incident& inc, const nlohmann::json& rec) {
  const bool exact = rec.value("exact", false);
  std::cout << "# Point-in-time recovery for incident " << inc.id << " on target " << inc.target
            << ": " << inc.summary << "\n";
  if (exact) {
    std::cout << "# exact: the change stream saw the first destructive transaction (xid "
              << rec["first_destructive_xid"].dump() << ", committed "
              << rec.value("target_time", "?") << "); the restore stops just before it commits.\n";
  } else {
    std::cout << "# a bound (" << rec.value("basis", "statistics")
              << "): the WAL position of a tick at which the statistics still showed the tables "
                 "intact, taken early enough for their publication delay; writes of the last "
                 "seconds before "
              << rec.value("target_time", "?") << " are not replayed.\n";
  }
  if (rec.contains("note")) std::cout << "# note: " << rec.value("note", "") << "\n";
  const nlohmann::json archive = rec.value("wal_archive", nlohmann::json());
  if (archive.is_object()) {
    std::cout << "# WAL archive when paged: "
              << (archive.value("healthy", false)
                      ? "healthy"
                      : absl::StrCat("NOT healthy: ", archive.value("problem", "unknown")))
              << "\n";
  }
  std::cout << "#\n# Restore a base backup that finished before the target into a NEW data "
               "directory (another host or port, never over the damaged cluster), with\n"
               "# restore_command reading the WAL archive and an empty recovery.signal in it, "
               "and these lines in its postgresql.conf:\n"
            << "recovery_target_lsn = '" << rec.value("target_lsn", "") << "'\n"
            << "recovery_target_inclusive = off\n"
            << "recovery_target_action = pause\n";
  if (exact) {
    std::cout << "# (equivalently: recovery_target_xid = '" << rec["first_destructive_xid"].dump()
              << "' with recovery_target_inclusive = off)\n";
  }
  std::cout << "#\n# Before promoting:\n"
               "#  1. wait until SELECT pg_is_wal_replay_paused() returns t, and check its log "
               "says \"recovery stopping before\" (not \"recovery ended before configured "
               "recovery target was reached\": then WAL is missing from the archive);\n"
               "#  2. count the rows of the incident's tables in the copy:\n";
  for (const auto& [object, m] : inc.members) {
    if (m.table.empty()) continue;
    std::cout << "#       SELECT count(*) FROM " << object << ";  -- about " << m.rows_before
              << " before the incident\n";
  }
  std::cout << "#  3. copy the rows back into production (pg_dump --data-only --table ...), or "
               "promote the copy: SELECT pg_wal_replay_resume(); (writes made after the target "
               "are then lost).\n";
}

}  // namespace

int RecoveryCommand(const ParsedArgs& args) {
  int64_t id = 0;
  if (args.positional.size() != 1 || !absl::SimpleAtoi(args.positional[0], &id) || id <= 0) {
    std::cerr << "pgwarden recovery: expected the incident ID (a positive number from the page)\n";
    return kExitUsage;
  }
  if (!args.Has("config")) {
    std::cerr << "pgwarden recovery: --config FILE is required\n";
    return kExitUsage;
  }
  absl::StatusOr<AgentConfig> cfg = LoadConfig(args.Get("config"));
  if (!cfg.ok()) {
    std::cerr << "pgwarden recovery: " << cfg.status().message() << "\n";
    return kExitUsage;
  }
  absl::StatusOr<Incident> inc = FindIncident(IncidentStatePath(*cfg), id);
  if (!inc.ok()) {
    std::cerr << "pgwarden recovery: " << inc.status().message() << "\n";
    return kExitFailure;
  }
  const nlohmann::json rec = inc->details.value("recovery", nlohmann::json());
  if (!rec.is_object() || !rec.contains("target_lsn")) {
    std::cerr << "pgwarden recovery: incident " << id
              << " has no recovery point (none of its signals destroyed data)\n";
    return kExitFailure;
  }
  PrintRecovery(*inc, rec);
  return kExitOk;
}

}  // namespace pgwarden
