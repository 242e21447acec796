// `pgwarden slot drop --config FILE [--target NAME] [--dry-run]` removes the
// change stream's replication slot of each target (audited), and `pgwarden
// check` reports the change stream's prerequisites and the paths of each
// target (ReportPaths).

#include <filesystem>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "agent/config.h"
#include "agent/discovery.h"
#include "cmd/cli.h"
#include "core/clock.h"
#include "core/target_id.h"
#include "pg/connect.h"
#include "remediation/stat_statements_sql.h"
#include "sources/slot_tools.h"

namespace pgwarden {

namespace {

std::string Bytes(int64_t n) {
  if (n < 1024) return absl::StrCat(n, " B");
  if (n < int64_t{1024} * 1024) return absl::StrFormat("%.1f KiB", static_cast<double>(n) / 1024);
  return absl::StrFormat("%.1f MiB", static_cast<double>(n) / (1024.0 * 1024.0));
}

// Problems lists what stops the change stream of `t` (empty: none).
std::vector<std::string> Problems(const TargetConfig& t, const SlotReport& r) {
  std::vector<std::string> out;
  if (r.wal_level != "logical") {
    out.push_back(absl::StrCat("wal_level is ", r.wal_level,
                               ", needs logical (ALTER SYSTEM SET wal_level = logical; restart)"));
  }
  if (!r.can_replicate) {
    out.push_back(
        absl::StrCat("role ", r.role, " lacks REPLICATION (ALTER ROLE ", r.role, " REPLICATION)"));
  }
  if (!r.exists && r.unbounded_retention && !t.change_stream.allow_unbounded_retention) {
    out.push_back(
        "max_slot_wal_keep_size is -1 (unlimited): the slot will not be created (set it, e.g. "
        "ALTER SYSTEM SET max_slot_wal_keep_size = '10GB'; SELECT pg_reload_conf(), or set "
        "change_stream.allow_unbounded_retention: true)");
  }
  if (r.exists && r.plugin != kSlotPlugin) {
    out.push_back(absl::StrCat("slot ", t.change_stream.slot, " exists with plugin ", r.plugin,
                               ", expected ", kSlotPlugin));
  }
  return out;
}

}  // namespace

void ReportPaths(const TargetConfig& t, pg::Session& conn, bool* ok) {
  const std::string p = absl::StrCat("target ", t.name, ": ");
  absl::StatusOr<pg::Result> pgss = conn.Query(kStatementsInstalledSql);
  const bool statements = pgss.ok() && !pgss->empty() && (*pgss)[0].Int(0) > 0;
  std::vector<std::string> paths;
  if (t.change_stream.enabled) {
    absl::StatusOr<SlotReport> r = InspectSlot(conn, t.change_stream.slot);
    if (!r.ok()) {
      std::cout << p << "change stream: FAILED: " << r.status().message() << "\n";
      *ok = false;
    } else {
      std::cout << p << "change stream: wal_level " << r->wal_level << ", role " << r->role
                << (r->can_replicate ? " may replicate" : " lacks REPLICATION")
                << ", max_slot_wal_keep_size "
                << (r->unbounded_retention ? std::string("-1 (unlimited)")
                                           : absl::StrCat(r->max_slot_wal_keep_size_mb, "MB"))
                << "\n";
      if (r->exists) {
        std::cout << p << "change stream: slot " << t.change_stream.slot << " (" << r->plugin
                  << (r->active ? ", active" : ", inactive") << ", wal_status " << r->wal_status
                  << ") retains " << Bytes(r->retained_bytes) << " of WAL, lag "
                  << Bytes(r->lag_bytes) << "\n";
        if (r->wal_status == "lost") {
          std::cout << p << "change stream: the slot was invalidated by the server; the agent "
                    << "recreates it and pages the gap\n";
        }
      } else {
        std::cout << p << "change stream: slot " << t.change_stream.slot
                  << " does not exist yet; the agent creates it (audited; undo: pgwarden slot "
                     "drop)\n";
      }
      for (const std::string& problem : Problems(t, *r)) {
        std::cout << p << "change stream: PROBLEM: " << problem << "\n";
        *ok = false;
      }
      paths.push_back("change_stream");
    }
  }
  if (t.fast_path) {
    paths.push_back(statements ? "statements" : "statements (pg_stat_statements not installed)");
    paths.push_back("commit_in_statement");
  }
  paths.push_back("stats");
  std::cout << p << "paths: " << absl::StrJoin(paths, ", ") << "\n";
}

int SlotCommand(const ParsedArgs& args) {
  if (args.positional.empty() || args.positional[0] != "drop") {
    std::cerr << "pgwarden slot: usage: pgwarden slot drop --config FILE [--target NAME] "
                 "[--dry-run]\n";
    return kExitUsage;
  }
  absl::StatusOr<AgentConfig> cfg = LoadConfigFlag(args);
  if (!cfg.ok()) {
    std::cerr << "pgwarden slot: " << cfg.status().message() << "\n";
    return kExitUsage;
  }
  const std::string only = args.Get("target");
  const bool dry_run = args.Has("dry-run");
  bool ok = true;
  bool any = false;
  std::vector<std::string> errors;
  const std::vector<TargetConfig> targets = ExpandTargets(*cfg, "pgwarden-slot", &errors);
  for (const std::string& e : errors) std::cout << e << "\n";
  for (const TargetConfig& t : targets) {
    if (!only.empty() ? t.name != only : !t.change_stream.enabled) continue;
    any = true;
    pg::ConnectOptions options;
    options.application_name = "pgwarden-slot";
    options.connect_timeout = t.connect_timeout;
    absl::StatusOr<std::unique_ptr<pg::Session>> conn = pg::Connect(t.dsn, options);
    absl::StatusOr<AuditRecord> rec =
        conn.ok() ? DropSlot(**conn, t.change_stream.slot, dry_run,
                             cfg->remediation.AuditPath(cfg->state_dir), t.name,
                             "pgwarden slot drop", RealClock::Get()->Now())
                  : absl::StatusOr<AuditRecord>(conn.status());
    if (!rec.ok()) {
      std::cout << "target " << t.name << ": slot " << t.change_stream.slot
                << ": NOT dropped: " << rec.status().message() << "\n";
      ok = absl::IsNotFound(rec.status()) && ok;
      continue;
    }
    std::cout << "target " << t.name << ": " << (dry_run ? "would run: " : "ran: ") << rec->sql
              << (rec->id > 0 ? absl::StrCat(" (audit record ", rec->id, ")") : "") << "\n";
    if (!dry_run) {
      // The stream's saved position belongs to the slot that is gone.
      std::error_code ec;
      std::filesystem::remove(
          absl::StrCat(cfg->state_dir, "/change_stream_", TargetFileName(t.name), ".json"), ec);
    }
  }
  if (!any) {
    std::cerr << "pgwarden slot: no target "
              << (only.empty() ? "has change_stream.enabled" : absl::StrCat("named ", only))
              << " in " << cfg->path << "\n";
    return kExitUsage;
  }
  return ok ? kExitOk : kExitFailure;
}

}  // namespace pgwarden
