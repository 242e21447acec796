// `pgwarden restore INCIDENT_ID --config FILE [--dry-run]`: re-inserts the
// rows that the incident's transactions deleted, from the row journal, in
// one transaction, ON CONFLICT DO NOTHING, as the role of restore.dsn;
// audited like a remediation action.

#include <unistd.h>

#include <filesystem>
#include <iostream>
#include <map>
#include <set>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "agent/config.h"
#include "cmd/cli.h"
#include "cmd/incident_file.h"
#include "core/target_id.h"
#include "pg/connect.h"
#include "remediation/audit.h"
#include "sources/row_journal.h"
#include "sources/table_changes.h"

namespace pgwarden {
namespace {

constexpr size_t kBatch = 2000;  // rows per INSERT

struct TableColumns {
  std::vector<std::string> names;
  std::vector<std::string> types;
  bool identity_always = false;
};

// TablePlan is what one table gets back.
struct TablePlan {
  std::string schema;
  std::string table;
  TableColumns columns;
  std::vector<const JournalRow*> rows;
  std::string refused;  // why nothing is restored into it ("" = go)
  int64_t inserted = 0;
  std::string sql;
};

absl::StatusOr<TableColumns> ReadColumns(pg::Session& conn, const std::string& schema,
                                         const std::string& table) {
  absl::StatusOr<pg::Result> r = conn.Query(
      "SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.attidentity = 'a' "
      "FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
      "JOIN pg_namespace n ON n.oid = c.relnamespace "
      "WHERE n.nspname = $1 AND c.relname = $2 AND a.attnum > 0 AND NOT a.attisdropped "
      "AND a.attgenerated = '' ORDER BY a.attnum",
      {schema, table});
  if (!r.ok()) return r.status();
  TableColumns out;
  for (const pg::Row& row : *r) {
    out.names.push_back(row.Text(0));
    out.types.push_back(row.Text(1));
    out.identity_always = out.identity_always || row.Bool(2);
  }
  if (out.names.empty()) {
    return absl::NotFoundError(absl::StrCat("table ", schema, ".", table, " does not exist"));
  }
  return out;
}

// Mismatch says why a journalled row cannot go back into the table as it is
// now ("" when it can).
std::string Mismatch(const JournalRow& row, const TableColumns& now) {
  std::vector<std::string> was;
  for (const DecodedColumn& c : row.columns) {
    if (c.unchanged_toast) return "a value stored out of line was not decoded";
    was.push_back(absl::StrCat(c.name, " ", c.type));
  }
  std::vector<std::string> is;
  for (size_t i = 0; i < now.names.size(); ++i) {
    is.push_back(absl::StrCat(now.names[i], " ", now.types[i]));
  }
  if (was == is) return "";
  if (was.size() < is.size()) {
    return "the journal holds only the rows' key columns (the table's REPLICA IDENTITY is not "
           "FULL)";
  }
  return absl::StrCat("the table's columns changed since (journalled: ", absl::StrJoin(was, ", "),
                      "; now: ", absl::StrJoin(is, ", "), ")");
}

// InsertSql is the statement one batch runs: $1 is a JSON array of rows.
std::string InsertSql(pg::Session& conn, const TablePlan& t) {
  const std::string q = absl::StrCat(conn.QuoteName(t.schema), ".", conn.QuoteName(t.table));
  std::vector<std::string> cols;
  for (const std::string& n : t.columns.names) cols.push_back(conn.QuoteName(n));
  const std::string list = absl::StrJoin(cols, ", ");
  return absl::StrCat("WITH ins AS (INSERT INTO ", q, " (", list, ") ",
                      t.columns.identity_always ? "OVERRIDING SYSTEM VALUE " : "", "SELECT ", list,
                      " FROM json_populate_recordset(NULL::", q,
                      ", $1::json) ON CONFLICT DO NOTHING RETURNING 1) SELECT count(*) FROM ins");
}

absl::Status InsertRows(pg::Session& conn, TablePlan* t) {
  t->sql = InsertSql(conn, *t);
  for (size_t at = 0; at < t->rows.size(); at += kBatch) {
    nlohmann::json batch = nlohmann::json::array();
    for (size_t i = at; i < std::min(t->rows.size(), at + kBatch); ++i) {
      nlohmann::json obj = nlohmann::json::object();
      for (const DecodedColumn& c : t->rows[i]->columns) {
        obj[c.name] = c.value ? nlohmann::json(*c.value) : nlohmann::json(nullptr);
      }
      batch.push_back(std::move(obj));
    }
    absl::StatusOr<pg::Result> r = conn.Query(t->sql, {batch.dump()});
    if (!r.ok()) return r.status();
    if (!r->empty()) t->inserted += (*r)[0].Int(0);
  }
  return absl::OkStatus();
}

// Plan groups the journalled rows by table and checks them against the
// tables as they are now.
std::vector<TablePlan> Plan(pg::Session& conn, const std::vector<JournalRow>& rows) {
  std::map<std::string, TablePlan> plans;
  for (const JournalRow& r : rows) {
    TablePlan& p = plans[absl::StrCat(r.schema, ".", r.table)];
    p.schema = r.schema;
    p.table = r.table;
    p.rows.push_back(&r);
  }
  std::vector<TablePlan> out;
  for (auto& [name, p] : plans) {
    absl::StatusOr<TableColumns> cols = ReadColumns(conn, p.schema, p.table);
    if (!cols.ok()) {
      p.refused = std::string(cols.status().message());
    } else {
      p.columns = *cols;
      for (const JournalRow* r : p.rows) {
        p.refused = Mismatch(*r, p.columns);
        if (!p.refused.empty()) break;
      }
    }
    out.push_back(std::move(p));
  }
  return out;
}

void AuditTable(const std::string& audit_path, const Incident& inc, const TablePlan& t,
                bool dry_run, const std::string& role, const absl::Status& outcome) {
  AuditRecord rec;
  rec.time = absl::Now();
  rec.incident = inc.dedup_key;
  rec.target = inc.target;
  rec.mode = dry_run ? RemediationMode::kDryRun : RemediationMode::kEnforce;
  rec.action = ActionKind::kRestoreRows;
  rec.role = role;
  rec.schema = t.schema;
  rec.table = t.table;
  rec.sql = t.sql;
  if (!t.refused.empty()) {
    rec.result = ActionResult::kRefused;
    rec.reason = t.refused;
  } else if (!outcome.ok()) {
    rec.result = ActionResult::kFailed;
    rec.reason = std::string(outcome.message());
  } else {
    rec.result = dry_run ? ActionResult::kDryRun : ActionResult::kDone;
  }
  const int64_t journalled = static_cast<int64_t>(t.rows.size());
  rec.details = {{"incident_id", inc.id},
                 {"rows_journalled", journalled},
                 {"rows_inserted", t.inserted},
                 {"rows_conflicting", t.refused.empty() ? journalled - t.inserted : 0},
                 {"os_user", std::to_string(::getuid())}};
  absl::StatusOr<std::shared_ptr<AuditLog>> log = AuditLog::Open(audit_path);
  absl::Status s = log.ok() ? (*log)->Append(&rec) : log.status();
  if (!s.ok()) std::cerr << "pgwarden restore: the audit write failed: " << s.message() << "\n";
}

// Journalled lists the incident's tables, partitions included.
std::set<std::string> Journalled(const Incident& inc) {
  std::set<std::string> tables;
  for (const auto& [object, m] : inc.members) {
    if (m.table.empty()) continue;
    tables.insert(absl::StrCat(m.schema, ".", m.table));
    for (const auto& [partition, rows] : m.partitions) tables.insert(partition);
  }
  return tables;
}

// Restore runs the restore of `rows` on `conn` (one transaction) and prints
// per table what it did; false if a table was refused or failed.
bool Restore(pg::Session& conn, const AgentConfig& cfg, const Incident& inc,
             const std::vector<JournalRow>& rows, bool dry_run) {
  absl::StatusOr<pg::Result> who = conn.Query("SELECT current_user");
  const std::string role = who.ok() && !who->empty() ? (*who)[0].Text(0) : "";
  std::vector<TablePlan> plans = Plan(conn, rows);
  absl::Status outcome = conn.Query("BEGIN").status();
  if (outcome.ok()) outcome = conn.Query("SET LOCAL statement_timeout = 0").status();
  for (TablePlan& t : plans) {
    if (outcome.ok() && t.refused.empty()) outcome = InsertRows(conn, &t);
  }
  absl::Status end = conn.Query(outcome.ok() && !dry_run ? "COMMIT" : "ROLLBACK").status();
  if (outcome.ok()) outcome = end;
  bool ok = outcome.ok();
  const std::string audit_path = cfg.remediation.AuditPath(cfg.state_dir);
  for (const TablePlan& t : plans) {
    AuditTable(audit_path, inc, t, dry_run, role, outcome);
    const int64_t n = static_cast<int64_t>(t.rows.size());
    std::cout << t.schema << "." << t.table << ": " << n << " rows journalled, ";
    if (!t.refused.empty()) {
      std::cout << "REFUSED: " << t.refused << "\n";
      ok = false;
    } else if (!outcome.ok()) {
      std::cout << "FAILED (nothing restored): " << outcome.message() << "\n";
    } else {
      std::cout << (dry_run ? "would insert " : "inserted ") << t.inserted << ", " << n - t.inserted
                << " already present\n";
    }
  }
  return ok;
}

}  // namespace

int RestoreCommand(const ParsedArgs& args) {
  int64_t id = 0;
  if (args.positional.size() != 1 || !absl::SimpleAtoi(args.positional[0], &id) || id <= 0) {
    std::cerr << "pgwarden restore: expected the incident ID (a positive number from the page)\n";
    return kExitUsage;
  }
  if (!args.Has("config")) {
    std::cerr << "pgwarden restore: --config FILE is required\n";
    return kExitUsage;
  }
  absl::StatusOr<AgentConfig> cfg = LoadConfig(args.Get("config"));
  if (!cfg.ok()) {
    std::cerr << "pgwarden restore: " << cfg.status().message() << "\n";
    return kExitUsage;
  }
  if (cfg->restore_dsn.empty()) {
    std::cerr << "pgwarden restore: restore.dsn (or dsn_env / dsn_file) is required in "
              << cfg->path << ": the role that re-inserts the rows\n";
    return kExitUsage;
  }
  absl::StatusOr<Incident> inc = FindIncident(IncidentStatePath(*cfg), id);
  if (!inc.ok()) {
    std::cerr << "pgwarden restore: " << inc.status().message() << "\n";
    return kExitFailure;
  }
  const nlohmann::json rec = inc->details.value("recovery", nlohmann::json());
  uint64_t from = 0;
  if (!rec.is_object() || !ParseLsn(rec.value("target_lsn", ""), &from)) {
    std::cerr << "pgwarden restore: incident " << id << " has no recovery point\n";
    return kExitFailure;
  }
  const std::string dir =
      (std::filesystem::path(cfg->state_dir) / "journal" / TargetFileName(inc->target)).string();
  const absl::Time until = inc->open ? absl::InfiniteFuture() : inc->resolved_at;
  absl::StatusOr<std::vector<JournalRow>> rows =
      RowJournal::Read(dir, Journalled(*inc), from, UINT64_MAX, until);
  if (!rows.ok()) {
    std::cerr << "pgwarden restore: " << rows.status().message() << "\n";
    return kExitFailure;
  }
  if (rows->empty()) {
    std::cerr << "pgwarden restore: the journal (" << dir << ") holds no deleted row of incident "
              << id << "'s tables since " << FormatLsn(from)
              << " (no change stream, a TRUNCATE, or past journal.max_age / max_bytes)\n";
    return kExitFailure;
  }
  pg::ConnectOptions options;
  options.application_name = "pgwarden-restore";
  // A database of a server target: restore.dsn names the server, the
  // incident the database.
  const auto labels = TargetLabels(inc->target);
  const auto db = labels.find("database");
  const std::string dsn =
      db == labels.end() ? cfg->restore_dsn : pg::WithDatabase(cfg->restore_dsn, db->second);
  absl::StatusOr<std::unique_ptr<pg::Session>> conn = pg::Connect(dsn, options);
  if (!conn.ok()) {
    std::cerr << "pgwarden restore: cannot connect with restore.dsn: " << conn.status().message()
              << "\n";
    return kExitFailure;
  }
  const bool ok = Restore(**conn, *cfg, *inc, *rows, args.Has("dry-run"));
  return ok ? kExitOk : kExitFailure;
}

}  // namespace pgwarden
