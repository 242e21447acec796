// `pgwarden check --config FILE`: validates the config, connects to each
// target and lists the privileges its role lacks.

#include <iostream>

#include "absl/strings/str_cat.h"
#include "agent/config.h"
#include "agent/discovery.h"
#include "cmd/cli.h"
#include "cmd/privileges.h"
#include "core/clock.h"
#include "remediation/object_access.h"
#include "sources/pg_sampler.h"

namespace pgwarden {
namespace {

// ReportUnreadable adds the watched objects the role may not read (a schema
// without USAGE, a table without SELECT), with the GRANT that fixes each.
void ReportUnreadable(pg::Session& conn, const std::vector<TableRef>& tables,
                      std::vector<std::string>* missing) {
  absl::StatusOr<std::vector<ObjectError>> unreadable = FindUnreadable(conn, tables);
  if (!unreadable.ok()) {
    missing->push_back(
        absl::StrCat("could not check access to watched objects: ", unreadable.status().message()));
    return;
  }
  for (const ObjectError& e : *unreadable) {
    std::string hidden;
    for (const TableRef& r : e.tables) {
      absl::StrAppend(&hidden, hidden.empty() ? "" : ", ", r.schema, ".", r.table);
    }
    missing->push_back(absl::StrCat(e.privilege, " on ", e.kind, " ", e.name, " (", e.error,
                                    "; the session guard cannot measure uncommitted writes on ",
                                    hidden, "): ", e.grant_sql));
  }
}

// ReportReplicaIdentity lists, for a target with the change stream and the
// row journal, the watched tables whose DELETEs decode to their key only
// (REPLICA IDENTITY not FULL), with the ALTER that fixes it. Advice, not a
// failure.
void ReportReplicaIdentity(const AgentConfig& cfg, const TargetConfig& t, pg::Session& conn,
                           const std::vector<TableRef>& tables) {
  if (!t.change_stream.enabled || !cfg.journal_enabled) return;
  for (const TableRef& ref : tables) {
    absl::StatusOr<pg::Result> r = conn.Query(
        "SELECT c.relreplident FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = $1 AND c.relname = $2",
        {ref.schema, ref.table});
    if (!r.ok() || r->empty() || (*r)[0].Text(0) == "f") continue;
    std::cout << "target " << t.name << ": journal: " << ref.schema << "." << ref.table
              << " keeps only the key of deleted rows (pgwarden restore cannot rebuild them): "
              << "ALTER TABLE " << conn.QuoteName(ref.schema) << "." << conn.QuoteName(ref.table)
              << " REPLICA IDENTITY FULL;\n";
  }
}

}  // namespace

int CheckCommand(const ParsedArgs& args) {
  absl::StatusOr<AgentConfig> cfg = LoadConfigFlag(args);
  if (!cfg.ok()) {
    std::cerr << "pgwarden check: " << cfg.status().message() << "\n";
    return kExitUsage;
  }
  std::cout << "config " << cfg->path << ": ok (" << cfg->targets.size() << " target(s), "
            << cfg->alerting.sinks.size() << " alert sink(s), remediation "
            << RemediationModeName(cfg->remediation.mode) << ")\n";
  bool ok = true;
  std::vector<std::string> errors;
  const std::vector<TargetConfig> targets = ExpandTargets(*cfg, "pgwarden-check", &errors);
  for (const std::string& e : errors) {
    std::cout << e << "\n";
    ok = false;
  }
  for (const TargetConfig& t : targets) {
    PgSampler sampler(t.dsn, TableFilter(t.include, t.exclude),
                      PgSamplerOptions{t.connect_timeout, t.statement_timeout, "pgwarden-check"});
    absl::StatusOr<Snapshot> snap = sampler.Sample(RealClock::Get()->Now());
    if (!snap.ok()) {
      std::cout << "target " << t.name << ": FAILED: " << snap.status().message() << "\n";
      ok = false;
      continue;
    }
    std::cout << "target " << t.name << ": connected to database " << snap->database << ", "
              << snap->tables.size() << " of " << snap->all_oids.size() << " user tables watched\n";
    std::vector<std::string> missing;
    std::vector<TableRef> tables;
    for (const TableStat& ts : snap->tables) tables.push_back(TableRef{ts.schema, ts.name});
    absl::StatusOr<std::vector<MissingPrivilege>> privs =
        CheckPrivileges(*sampler.session(), cfg->remediation, tables);
    if (!privs.ok()) {
      missing.push_back(absl::StrCat("could not check privileges: ", privs.status().message()));
    } else {
      for (const MissingPrivilege& m : *privs) {
        if (!m.required) {
          std::cout << "target " << t.name << ": optional: " << m.privilege << " (" << m.needed_for
                    << "): " << m.grant_sql << "\n";
          continue;
        }
        missing.push_back(absl::StrCat(m.privilege, " (", m.needed_for, "): ", m.grant_sql));
      }
    }
    ReportUnreadable(*sampler.session(), tables, &missing);
    if (missing.empty()) {
      std::cout << "target " << t.name << ": privileges ok\n";
    }
    ReportPaths(t, *sampler.session(), &ok);
    ReportReplicaIdentity(*cfg, t, *sampler.session(), tables);
    for (const std::string& m : missing) {
      std::cout << "target " << t.name << ": missing privilege: " << m << "\n";
      ok = false;
    }
  }
  return ok ? kExitOk : kExitFailure;
}

}  // namespace pgwarden
