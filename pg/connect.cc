#include "pg/connect.h"

#include <libpq-fe.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <pqxx/pqxx>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "core/log_redact.h"

namespace pgwarden {
namespace pg {
namespace {

int64_t Seconds(absl::Duration d) { return std::max<int64_t>(1, absl::ToInt64Seconds(d)); }

std::string PercentEncode(absl::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      absl::StrAppend(&out, "%", absl::Hex(c, absl::kZeroPad2));
    }
  }
  return out;
}

// KeywordValue quotes a conninfo value (single quotes, \ and ' escaped).
std::string KeywordValue(absl::string_view s) {
  return absl::StrCat("'", absl::StrReplaceAll(s, {{"\\", "\\\\"}, {"'", "\\'"}}), "'");
}

// StatusFromSqlState picks the canonical code for a SQL error.
absl::StatusCode CodeFor(const std::string& state) {
  if (state == "57014" || state == "55P03") return absl::StatusCode::kDeadlineExceeded;
  if (state == "42501") return absl::StatusCode::kPermissionDenied;
  if (state == "42P01" || state == "42704" || state == "42883" || state == "3D000") {
    return absl::StatusCode::kNotFound;
  }
  if (absl::StartsWith(state, "08") || absl::StartsWith(state, "57P")) {
    return absl::StatusCode::kUnavailable;
  }
  if (absl::StartsWith(state, "22") || absl::StartsWith(state, "42")) {
    return absl::StatusCode::kInvalidArgument;
  }
  return absl::StatusCode::kInternal;
}

// FromException is the one place a libpqxx exception becomes a Status.
absl::Status FromException(const std::exception& e) {
  std::string what(absl::StripTrailingAsciiWhitespace(e.what()));
  if (dynamic_cast<const pqxx::broken_connection*>(&e) != nullptr) {
    return absl::UnavailableError(absl::StrCat("connection lost: ", what));
  }
  if (const auto* sql = dynamic_cast<const pqxx::sql_error*>(&e)) {
    const std::string state = sql->sqlstate();
    absl::Status s(CodeFor(state), what);
    if (!state.empty()) s.SetPayload(kSqlStatePayload, absl::Cord(state));
    return s;
  }
  return absl::InternalError(what);
}

// Rollbacks holds OwnRollbacks per DSN.
struct Rollbacks {
  absl::Mutex mu;
  std::map<std::string, int64_t> by_dsn ABSL_GUARDED_BY(mu);
};
Rollbacks& OwnRollbackAccount() {
  static Rollbacks* r = new Rollbacks();
  return *r;
}

Result Convert(const pqxx::result& r) {
  Result out;
  out.rows.reserve(r.size());
  for (const auto& row : r) {
    std::vector<absl::optional<std::string>> fields;
    fields.reserve(row.size());
    for (const auto& f : row) {
      fields.push_back(f.is_null() ? absl::nullopt
                                   : absl::optional<std::string>(std::string(f.c_str(), f.size())));
    }
    out.rows.emplace_back(std::move(fields));
  }
  out.affected_rows = static_cast<int64_t>(r.affected_rows());
  return out;
}

pqxx::result Run(pqxx::transaction_base& tx, absl::string_view sql, const Params& params) {
  // Without parameters the simple protocol runs, which accepts several
  // statements separated by semicolons.
  if (params.empty()) return tx.exec(std::string(sql));
  return tx.exec_params(std::string(sql), pqxx::prepare::make_dynamic_params(params));
}

// PqxxSession is the libpqxx implementation of Session.
class PqxxSession : public Session {
 public:
  PqxxSession(std::unique_ptr<pqxx::connection> conn, std::string dsn)
      : conn_(std::move(conn)), dsn_(std::move(dsn)) {}
  ~PqxxSession() override {
    try {
      conn_->disconnect();
    } catch (const std::exception&) {  // closing: nothing left to report to
    }
  }

  absl::StatusOr<Result> Query(absl::string_view sql, const Params& params) override {
    try {
      pqxx::nontransaction tx(*conn_);
      return Convert(Run(tx, sql, params));
    } catch (const std::exception& e) {
      return Failed(e);
    }
  }

  absl::StatusOr<Result> Execute(absl::string_view sql, absl::Duration timeout,
                                 const Params& params) override {
    const int64_t ms = std::max<int64_t>(100, absl::ToInt64Milliseconds(timeout));
    try {
      pqxx::work tx(*conn_);
      tx.exec(absl::StrCat("SET LOCAL statement_timeout = ", ms));
      tx.exec(absl::StrCat("SET LOCAL lock_timeout = ", ms));
      Result out = Convert(Run(tx, sql, params));
      tx.commit();
      return out;
    } catch (const std::exception& e) {
      return Failed(e);
    }
  }

  // libpqxx 6 reopens a lost connection to quote, and throws when it
  // cannot: a statement built on a lost connection fails when it runs, so a
  // lost connection quotes by PostgreSQL's own rules (identifiers in double
  // quotes, literals in single quotes, standard_conforming_strings on) rather
  // than throwing out of the caller.
  std::string QuoteName(absl::string_view name) const override {
    try {
      return conn_->quote_name(std::string(name));
    } catch (const std::exception&) {
      return absl::StrCat("\"", absl::StrReplaceAll(name, {{"\"", "\"\""}}), "\"");
    }
  }
  std::string Quote(absl::string_view value) const override {
    try {
      return conn_->quote(std::string(value));
    } catch (const std::exception&) {
      return absl::StrCat("'", absl::StrReplaceAll(value, {{"'", "''"}}), "'");
    }
  }
  int BackendPid() const override {
    try {
      return conn_->is_open() ? conn_->backendpid() : 0;
    } catch (const std::exception&) {
      return 0;
    }
  }
  bool IsOpen() const override { return conn_->is_open(); }
  int64_t FailedStatements() const override { return failed_; }

 private:
  // Failed turns the exception into a Status; a statement the server
  // rejected rolled its transaction back: pg_stat_force_next_flush
  // (PostgreSQL 15) puts that in pg_stat_database right away, and then it is
  // counted in OwnRollbacks. The database's counters are only flushed with
  // some relation's, hence the read of a small catalog.
  absl::Status Failed(const std::exception& e) {
    absl::Status s = FromException(e);
    if (dynamic_cast<const pqxx::sql_error*>(&e) == nullptr) return s;
    ++failed_;
    try {
      if (conn_->is_open() && conn_->server_version() >= 150000) {
        pqxx::nontransaction tx(*conn_);
        tx.exec("SELECT pg_stat_force_next_flush() FROM pg_catalog.pg_am LIMIT 1");
      }
    } catch (const std::exception&) {  // best effort: the count may lag a few seconds
    }
    Rollbacks& r = OwnRollbackAccount();
    absl::MutexLock lock(&r.mu);
    ++r.by_dsn[dsn_];
    return s;
  }

  // quote_name and quote are not const in libpqxx 6.
  mutable std::unique_ptr<pqxx::connection> conn_;
  std::string dsn_;
  int64_t failed_ = 0;
};

}  // namespace

std::string ConnectionString(const std::string& dsn, const ConnectOptions& o) {
  std::vector<std::pair<std::string, std::string>> kv = {
      {"connect_timeout", absl::StrCat(Seconds(o.connect_timeout))},
      {"application_name", o.application_name}};
  if (o.keepalives) {
    kv.insert(kv.end(), {{"keepalives", "1"},
                         {"keepalives_idle", absl::StrCat(Seconds(o.keepalives_idle))},
                         {"keepalives_interval", absl::StrCat(Seconds(o.keepalives_interval))},
                         {"keepalives_count", absl::StrCat(o.keepalives_count)}});
  }
  const bool uri = absl::StartsWith(dsn, "postgresql://") || absl::StartsWith(dsn, "postgres://");
  std::string out = dsn;
  for (const auto& [k, v] : kv) {
    if (uri) {
      absl::StrAppend(&out, !absl::StrContains(out, '?') ? "?" : "&", k, "=", PercentEncode(v));
    } else {
      absl::StrAppend(&out, out.empty() ? "" : " ", k, "=", KeywordValue(v));
    }
  }
  return out;
}

std::string WithDatabase(const std::string& dsn, const std::string& db) {
  const bool uri = absl::StartsWith(dsn, "postgresql://") || absl::StartsWith(dsn, "postgres://");
  if (uri) {
    return absl::StrCat(dsn, !absl::StrContains(dsn, '?') ? "?" : "&",
                        "dbname=", PercentEncode(db));
  }
  return absl::StrCat(dsn, dsn.empty() ? "" : " ", "dbname=", KeywordValue(db));
}

absl::StatusOr<std::unique_ptr<Session>> Connect(const std::string& dsn,
                                                 const ConnectOptions& options) {
  std::unique_ptr<pqxx::connection> conn;
  try {
    conn = std::make_unique<pqxx::connection>(ConnectionString(dsn, options));
  } catch (const std::exception& e) {
    // libpq messages do not contain the password; the DSN is redacted anyway.
    return absl::UnavailableError(absl::StrCat("cannot connect to ", RedactDsn(dsn), ": ",
                                               absl::StripTrailingAsciiWhitespace(e.what())));
  }
  auto session = std::make_unique<PqxxSession>(std::move(conn), dsn);
  std::vector<std::string> settings;
  if (options.statement_timeout > absl::ZeroDuration()) {
    settings.push_back(absl::StrCat("SET statement_timeout = ",
                                    absl::ToInt64Milliseconds(options.statement_timeout)));
  }
  if (options.lock_timeout > absl::ZeroDuration()) {
    settings.push_back(
        absl::StrCat("SET lock_timeout = ", absl::ToInt64Milliseconds(options.lock_timeout)));
  }
  if (!settings.empty()) {
    absl::StatusOr<Result> r = session->Query(absl::StrJoin(settings, "; "), {});
    if (!r.ok()) {
      return absl::UnavailableError(absl::StrCat("cannot set up the session on ", RedactDsn(dsn),
                                                 ": ", r.status().message()));
    }
  }
  return std::unique_ptr<Session>(std::move(session));
}

int64_t OwnRollbacks(const std::string& dsn) {
  Rollbacks& r = OwnRollbackAccount();
  absl::MutexLock lock(&r.mu);
  auto it = r.by_dsn.find(dsn);
  return it == r.by_dsn.end() ? 0 : it->second;
}

std::string RedactDsn(const std::string& dsn) { return RedactPasswordPatterns(dsn, "***"); }

std::string DsnPassword(const std::string& dsn) {
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(dsn.c_str(), &error);
  if (error != nullptr) PQfreemem(error);
  if (options == nullptr) return "";
  std::string password;
  for (const PQconninfoOption* o = options; o->keyword != nullptr; ++o) {
    if (std::strcmp(o->keyword, "password") == 0 && o->val != nullptr) password = o->val;
  }
  PQconninfoFree(options);
  return password;
}

}  // namespace pg
}  // namespace pgwarden
