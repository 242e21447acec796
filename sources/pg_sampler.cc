#include "sources/pg_sampler.h"

#include <fnmatch.h>

#include <pqxx/pqxx>
#include <regex>

#include "absl/strings/str_cat.h"
#include "core/log.h"

namespace pgwarden {
namespace {

constexpr char kTablesSql[] =
    "SELECT s.relid::int8, c.relfilenode::int8, s.schemaname, s.relname, "
    "s.n_live_tup, s.n_dead_tup, s.n_tup_ins, s.n_tup_upd, s.n_tup_del, "
    "s.vacuum_count + s.autovacuum_count + s.analyze_count + s.autoanalyze_count "
    "FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid";

constexpr char kDatabaseSql[] =
    "SELECT current_database(), xact_commit, xact_rollback, deadlocks, sessions, "
    "sessions_fatal, sessions_killed "
    "FROM pg_stat_database WHERE datname = current_database()";

bool GlobMatch(const std::string& pattern, const std::string& text) {
  return ::fnmatch(pattern.c_str(), text.c_str(), 0) == 0;
}

}  // namespace

bool TableFilter::Matches(const std::string& schema, const std::string& table) const {
  const std::string full = absl::StrCat(schema, ".", table);
  bool included = include_.empty();
  for (const std::string& p : include_) {
    if (GlobMatch(p, full)) {
      included = true;
      break;
    }
  }
  if (!included) return false;
  for (const std::string& p : exclude_) {
    if (GlobMatch(p, full)) return false;
  }
  return true;
}

std::string RedactDsn(const std::string& dsn) {
  static const std::regex kKeyword(R"((password\s*=\s*)('([^'\\]|\\.)*'|\S+))", std::regex::icase);
  static const std::regex kUri(R"((://[^:/@\s]*:)[^@\s]*@)");
  std::string out = std::regex_replace(dsn, kKeyword, "$1***");
  return std::regex_replace(out, kUri, "$1***@");
}

PgSampler::PgSampler(std::string dsn, TableFilter filter, PgSamplerOptions options)
    : dsn_(std::move(dsn)), filter_(std::move(filter)), options_(std::move(options)) {}

PgSampler::~PgSampler() { Disconnect(); }

void PgSampler::Disconnect() {
  if (conn_ == nullptr) return;
  try {
    conn_->disconnect();
  } catch (const std::exception&) {
  }
  conn_.reset();
}

absl::Status PgSampler::Connect() {
  const std::string dsn = absl::StrCat(
      dsn_,
      " connect_timeout=", std::max<int64_t>(1, absl::ToInt64Seconds(options_.connect_timeout)),
      " application_name=", options_.application_name);
  try {
    auto conn = std::make_unique<pqxx::connection>(dsn);
    pqxx::nontransaction tx(*conn);
    tx.exec(absl::StrCat("SET statement_timeout = ",
                         absl::ToInt64Milliseconds(options_.statement_timeout)));
    tx.exec("SET lock_timeout = 1000");
    conn_ = std::move(conn);
    return absl::OkStatus();
  } catch (const std::exception& e) {
    // libpq messages do not contain the password; the DSN is redacted anyway.
    return absl::UnavailableError(
        absl::StrCat("cannot connect to ", RedactDsn(dsn_), ": ", e.what()));
  }
}

absl::StatusOr<Snapshot> PgSampler::Sample(absl::Time now) {
  if (conn_ == nullptr) {
    if (absl::Status s = Connect(); !s.ok()) return s;
  }
  Snapshot snap;
  snap.time = now;
  try {
    pqxx::nontransaction tx(*conn_);
    pqxx::result tables = tx.exec(kTablesSql);
    snap.all_oids.reserve(tables.size());
    for (const auto& row : tables) {
      snap.all_oids.push_back(row[0].as<int64_t>());
    }
    for (const auto& row : tables) {
      std::string schema = row[2].as<std::string>();
      std::string name = row[3].as<std::string>();
      if (!filter_.Matches(schema, name)) continue;
      TableStat t;
      t.oid = row[0].as<int64_t>();
      t.relfilenode = row[1].as<int64_t>(0);
      t.schema = std::move(schema);
      t.name = std::move(name);
      t.live_rows = row[4].as<int64_t>(0);
      t.dead_rows = row[5].as<int64_t>(0);
      t.inserted = row[6].as<int64_t>(0);
      t.updated = row[7].as<int64_t>(0);
      t.deleted = row[8].as<int64_t>(0);
      t.maintenance_count = row[9].as<int64_t>(0);
      snap.tables.push_back(std::move(t));
    }
    pqxx::result db = tx.exec(kDatabaseSql);
    if (!db.empty()) {
      const auto& r = db[0];
      snap.database = r[0].as<std::string>();
      snap.db.xact_commit = r[1].as<int64_t>(0);
      snap.db.xact_rollback = r[2].as<int64_t>(0);
      snap.db.deadlocks = r[3].as<int64_t>(0);
      snap.db.sessions = r[4].as<int64_t>(0);
      snap.db.sessions_fatal = r[5].as<int64_t>(0);
      snap.db.sessions_killed = r[6].as<int64_t>(0);
    }
  } catch (const pqxx::broken_connection& e) {
    Disconnect();
    return absl::UnavailableError(absl::StrCat("connection lost: ", e.what()));
  } catch (const std::exception& e) {
    Disconnect();
    return absl::InternalError(absl::StrCat("sampling query failed: ", e.what()));
  }
  return snap;
}

}  // namespace pgwarden
