#include "tests/remediation/test_util.h"

#include <stdlib.h>
#include <unistd.h>

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "devtools/process.h"
#include "pg/connect.h"

namespace pgwarden {
namespace testing {

std::unique_ptr<Shop> Shop::Start(int64_t rows, bool agent_privileges) {
  auto shop = std::make_unique<Shop>();
  absl::StatusOr<std::unique_ptr<LocalPostgres>> pg = LocalPostgres::Start();
  if (!pg.ok()) throw std::runtime_error(std::string(pg.status().message()));
  shop->pg_ = *std::move(pg);
  char tmpl[] = "/tmp/pgwarden-rem-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) throw std::runtime_error("mkdtemp");
  shop->tmp_ = tmpl;
  absl::StatusOr<std::string> created = shop->pg_->Psql("CREATE DATABASE shop");
  if (!created.ok()) throw std::runtime_error(std::string(created.status().message()));
  shop->admin_ = pg::ConnectClient(shop->pg_->Dsn("shop"));
  shop->Exec("CREATE EXTENSION pg_stat_statements");
  shop->Exec("CREATE ROLE app_owner NOLOGIN");
  if (agent_privileges) {
    for (const std::string& g : AgentGrants()) shop->Exec(g);
  } else {
    shop->Exec("CREATE ROLE pgwarden LOGIN");
  }
  shop->Exec("CREATE TABLE public.customers (id bigint PRIMARY KEY, name text NOT NULL)");
  shop->Exec("ALTER TABLE public.customers OWNER TO app_owner");
  shop->Exec(
      absl::StrCat("INSERT INTO public.customers SELECT g, 'customer ' || g "
                   "FROM generate_series(1, ",
                   rows, ") g"));
  shop->Exec("ANALYZE public.customers");
  return shop;
}

Shop::~Shop() {
  admin_.reset();
  pg_.reset();
  std::error_code ec;
  if (!tmp_.empty()) std::filesystem::remove_all(tmp_, ec);
}

std::string Shop::Dsn(const std::string& user, const std::string& password) {
  return pg_->Dsn("shop", user, password);
}

void Shop::Exec(const std::string& sql) {
  pqxx::nontransaction tx(*admin_);
  tx.exec(sql);
}

std::string Shop::Scalar(const std::string& sql) {
  pqxx::nontransaction tx(*admin_);
  pqxx::result r = tx.exec(sql);
  if (r.empty() || r[0][0].is_null()) return "";
  return r[0][0].as<std::string>();
}

int64_t Shop::Count(const std::string& table) {
  return std::stoll(Scalar(absl::StrCat("SELECT count(*) FROM public.", table)));
}

void Shop::AddRole(const std::string& name, const std::string& privileges) {
  const std::string q = admin_->quote_name(name);
  Exec(absl::StrCat("CREATE ROLE ", q, " LOGIN PASSWORD 'pw'"));
  if (!privileges.empty()) {
    // Granted as the owner so that the grantor is app_owner.
    pqxx::work w(*admin_);
    w.exec("SET LOCAL ROLE app_owner");
    w.exec(absl::StrCat("GRANT ", privileges, " ON public.customers TO ", q));
    w.commit();
  }
}

bool Shop::CanLogin(const std::string& role) {
  pqxx::nontransaction tx(*admin_);
  return tx.exec_params1("SELECT rolcanlogin FROM pg_roles WHERE rolname = $1", role)[0].as<bool>();
}

bool Shop::HasPrivilege(const std::string& role, const std::string& table,
                        const std::string& priv) {
  pqxx::nontransaction tx(*admin_);
  return tx
      .exec_params1("SELECT has_table_privilege($1::text::name, $2::text::regclass, $3)", role,
                    table, priv)[0]
      .as<bool>();
}

int Shop::SessionsOf(const std::string& role) {
  pqxx::nontransaction tx(*admin_);
  return tx.exec_params1("SELECT count(*) FROM pg_stat_activity WHERE usename = $1", role)[0]
      .as<int>();
}

std::unique_ptr<pg::Session> Shop::AgentConnection() {
  absl::StatusOr<std::unique_ptr<pg::Session>> s = pg::Connect(Dsn("pgwarden"), {});
  if (!s.ok()) throw std::runtime_error(std::string(s.status().message()));
  return *std::move(s);
}

std::unique_ptr<pg::ClientConnection> Shop::Connect(const std::string& role,
                                                    const std::string& app) {
  return pg::ConnectClient(Dsn(role, "pw") + " application_name=" + app);
}

pid_t Shop::SpawnPsql(const std::string& role, const std::string& app, const std::string& sql) {
  ProcessOptions p;
  p.argv = {"/usr/lib/postgresql/15/bin/psql",
            "-X",
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
            "-h",
            "127.0.0.1",
            "-p",
            absl::StrCat(pg_->port()),
            "-U",
            role,
            "-d",
            "shop",
            "-c",
            sql};
  p.env = {"PGPASSWORD=pw", absl::StrCat("PGAPPNAME=", app)};
  p.stdout_path = tmp_ + "/psql.out";
  p.stderr_path = tmp_ + "/psql.out";
  absl::StatusOr<pid_t> pid = SpawnProcess(p);
  if (!pid.ok()) throw std::runtime_error(std::string(pid.status().message()));
  return *pid;
}

RemediationConfig EnforceConfig() {
  RemediationConfig c;
  c.mode = RemediationMode::kEnforce;
  c.protected_roles = {"postgres", "pgwarden"};
  return c;
}

Attribution HandAttribution(const std::string& role, int64_t rows, double confidence) {
  Attribution a;
  a.schema = "public";
  a.table = "customers";
  Culprit c;
  c.role = role;
  c.rows_attributed = rows;
  c.confidence = confidence;
  a.culprits.push_back(c);
  a.confidence = confidence;
  return a;
}

RemediationRequest Request(const std::string& incident, Attribution a) {
  RemediationRequest r;
  r.incident_id = incident;
  r.target = "shop";
  r.tables = {TableRef{"public", "customers"}};
  r.rows_dropped = a.culprits.empty() ? 0 : a.culprits[0].rows_attributed;
  r.attribution = std::move(a);
  return r;
}

std::vector<AuditRecord> AuditLines(const std::string& path) {
  absl::StatusOr<std::vector<AuditRecord>> all = AuditLog::ReadAll(path);
  if (!all.ok()) return {};
  return *all;
}

}  // namespace testing
}  // namespace pgwarden
