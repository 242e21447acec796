#include "devtools/demo_shop.h"

#include <fstream>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "core/log.h"
#include "devtools/process.h"
#include "pg/connect.h"

namespace pgwarden {

absl::Status CreateShop(const LocalPostgres& pg, int64_t customers) {
  const std::string roles = absl::StrCat(
      "CREATE ROLE shop_owner NOLOGIN;"
      "CREATE ROLE pgwarden LOGIN CREATEROLE;"
      "GRANT pg_monitor, pg_signal_backend TO pgwarden;"
      "GRANT shop_owner TO pgwarden;"
      "CREATE ROLE app LOGIN PASSWORD '",
      kAppPassword,
      "';"
      "CREATE ROLE cleanup_job LOGIN PASSWORD '",
      kCleanupPassword, "';");
  if (auto r = pg.Psql(roles); !r.ok()) return r.status();
  // CREATE DATABASE cannot share psql's implicit transaction.
  if (auto r = pg.Psql("CREATE DATABASE shop OWNER shop_owner"); !r.ok()) return r.status();
  // Per-role statement counters for attribution (the library is preloaded by
  // LocalPostgres; the extension's views live in each database).
  if (auto r = pg.Psql("CREATE EXTENSION IF NOT EXISTS pg_stat_statements", kShopDatabase);
      !r.ok()) {
    return r.status();
  }
  const std::string schema = absl::StrCat(
      "SET ROLE shop_owner;"
      "CREATE TABLE customers (id bigserial PRIMARY KEY, name text NOT NULL, email text NOT NULL,"
      " created_at timestamptz NOT NULL DEFAULT now());"
      "CREATE TABLE orders (id bigserial PRIMARY KEY, customer_id bigint NOT NULL,"
      " amount numeric(10,2) NOT NULL, created_at timestamptz NOT NULL DEFAULT now());"
      "INSERT INTO customers (name, email) SELECT 'customer ' || g, 'c' || g || '@example.com'"
      " FROM generate_series(1, ",
      customers,
      ") g;"
      "INSERT INTO orders (customer_id, amount) SELECT 1 + (g % ",
      customers, "), (g % 500) + 0.99 FROM generate_series(1, ", customers / 4 + 1,
      ") g;"
      "GRANT SELECT, INSERT, UPDATE, DELETE ON customers, orders TO app, cleanup_job;"
      "GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO app, cleanup_job;"
      "RESET ROLE;"
      "ANALYZE customers; ANALYZE orders;");
  if (auto r = pg.Psql(schema, kShopDatabase); !r.ok()) return r.status();
  return absl::OkStatus();
}

std::string CleanupScriptSql(const std::string& table, int batches, int batch,
                             absl::Duration pause) {
  std::string sql = "\\set ON_ERROR_STOP 1\n";
  for (int i = 0; i < batches; ++i) {
    absl::StrAppend(&sql, "DELETE FROM ", table, " WHERE id IN (SELECT id FROM ", table,
                    " ORDER BY id LIMIT ", batch, ");\n");
    if (pause > absl::ZeroDuration()) {
      absl::StrAppend(&sql, "SELECT pg_sleep(", absl::ToDoubleSeconds(pause), ");\n");
    }
  }
  return sql;
}

absl::StatusOr<pid_t> StartCleanupJob(const LocalPostgres& pg, const std::string& script_sql) {
  return StartPsqlJob(pg, script_sql, kCleanupRole, kCleanupPassword, "nightly-cleanup");
}

absl::StatusOr<pid_t> StartPsqlJob(const LocalPostgres& pg, const std::string& script_sql,
                                   const std::string& role, const std::string& password,
                                   const std::string& app) {
  const std::string path =
      absl::StrCat(pg.dir(), "/cleanup-", absl::ToUnixNanos(absl::Now()), ".sql");
  std::ofstream out(path);
  out << script_sql;
  out.close();
  if (!out) return absl::InternalError(absl::StrCat("cannot write ", path));
  ProcessOptions p;
  p.argv = {
      "/usr/lib/postgresql/15/bin/psql", "-X", "-q", "-o", "/dev/null",   "-h", "127.0.0.1", "-p",
      absl::StrCat(pg.port()),           "-U", role, "-d", kShopDatabase, "-f", path};
  p.env = {absl::StrCat("PGAPPNAME=", app)};
  if (!password.empty()) p.env.push_back(absl::StrCat("PGPASSWORD=", password));
  p.stderr_path = path + ".log";
  return SpawnProcess(p);
}

void ChurnWorkload::Start() {
  stop_ = false;
  thread_ = std::thread([this] { Run(); });
}

void ChurnWorkload::Stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

void ChurnWorkload::Run() {
  std::mt19937_64 rng(42);
  std::unique_ptr<pg::Session> conn;
  int64_t i = 0;
  pg::ConnectOptions options;
  options.application_name = "demo-shop";
  while (!stop_) {
    if (!conn || !conn->IsOpen()) {
      absl::StatusOr<std::unique_ptr<pg::Session>> c = pg::Connect(dsn_, options);
      if (!c.ok()) {
        ++errors_;
        absl::SleepFor(absl::Milliseconds(500));
        continue;
      }
      conn = *std::move(c);
    }
    const int kind = static_cast<int>(rng() % 100);
    std::string sql;
    if (kind < 50) {
      sql =
          "INSERT INTO customers (name, email) VALUES ('new', 'new@example.com'); "
          "INSERT INTO orders (customer_id, amount) VALUES (1, 9.99)";
    } else if (kind < 75) {
      sql = absl::StrCat("UPDATE customers SET name = 'renamed' WHERE id = ", 1 + rng() % 100000);
    } else if (kind < 97) {
      // Small deletes of a few recent rows: normal churn.
      sql = absl::StrCat(
          "DELETE FROM orders WHERE id IN (SELECT id FROM orders ORDER BY id DESC LIMIT ",
          1 + rng() % 5, ")");
    } else {
      sql = "SELECT 1/0";  // an application error: a rollback
    }
    if (conn->Execute(sql, absl::Seconds(10)).ok()) {
      ++transactions_;
      if (++i % 500 == 0) (void)conn->Query("ANALYZE orders");
    } else {
      ++errors_;
    }
    absl::SleepFor(absl::Milliseconds(25));
  }
}

}  // namespace pgwarden
