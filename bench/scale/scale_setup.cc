#include "bench/scale/scale_setup.h"

#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace pgwarden::bench {
namespace {

// kShapes are the statement shapes per table: pg_stat_statements folds the
// constants, so each (shape, table) pair is one entry.
constexpr const char* kShapes[] = {
    "SELECT count(*) FROM t%d WHERE id = 1",
    "SELECT v FROM t%d WHERE id = 1",
    "SELECT id, v FROM t%d WHERE id = 1",
    "SELECT max(id) FROM t%d",
};
constexpr int kShapeCount = static_cast<int>(std::size(kShapes));

std::string Shape(int i, int tables) {
  const int table = i % tables + 1;
  std::string text = kShapes[i / tables];
  const size_t at = text.find("%d");
  return text.replace(at, 2, absl::StrCat(table));
}

absl::Status Run(const LocalPostgres& pg, const std::string& sql, const std::string& db) {
  absl::StatusOr<std::string> r = pg.Psql(sql, db);
  return r.ok() ? absl::OkStatus() : r.status();
}

}  // namespace

absl::StatusOr<ScaleOptions> ParseScaleOptions(int argc, char** argv) {
  ScaleOptions o;
  std::vector<std::string> positional;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if ((arg == "--path" || arg == "--statements") && i + 1 < argc) {
      const std::string value = argv[++i];
      if (arg == "--path") {
        o.path = value;
      } else if (!absl::SimpleAtoi(value, &o.statements) || o.statements < 0) {
        return absl::InvalidArgumentError("--statements: a count >= 0");
      }
    } else if (absl::StartsWith(arg, "--")) {
      return absl::InvalidArgumentError(absl::StrCat("unknown or incomplete option ", arg));
    } else {
      positional.push_back(arg);
    }
  }
  if (positional.size() > 2 ||
      (!positional.empty() && !absl::SimpleAtoi(positional[0], &o.tables)) ||
      (positional.size() > 1 && !absl::SimpleAtoi(positional[1], &o.seconds))) {
    return absl::InvalidArgumentError("usage: TABLES SECONDS [--path P] [--statements N]");
  }
  if (!o.path.empty() && o.path != "stream" && o.path != "statements" && o.path != "stats") {
    return absl::InvalidArgumentError("--path: stream, statements or stats");
  }
  if (o.tables < 5) return absl::InvalidArgumentError("TABLES: at least 5");
  if (o.seconds < 5) return absl::InvalidArgumentError("SECONDS: at least 5");
  if (o.statements > kShapeCount * o.tables) {
    return absl::InvalidArgumentError(absl::StrCat("--statements: at most ", kShapeCount,
                                                   " per table (", kShapeCount * o.tables, ")"));
  }
  return o;
}

LocalPostgresOptions ClusterOptions(const ScaleOptions& o) {
  LocalPostgresOptions c;
  if (!o.Extended()) return c;
  // Room for the entries, the agent's own statements and some slack, so
  // nothing is deallocated while measuring.
  c.extra_conf.push_back(
      absl::StrCat("pg_stat_statements.max = ", std::max(10000, o.statements + 2000)));
  if (o.path == "stream") {
    c.extra_conf.insert(c.extra_conf.end(),
                        {"wal_level = logical", "max_wal_senders = 10",
                         "max_replication_slots = 10", "max_slot_wal_keep_size = '1GB'"});
  }
  return c;
}

absl::Status PrepareDatabase(const LocalPostgres& pg, const std::string& db,
                             const ScaleOptions& o) {
  const std::string role = o.path == "stream" ? " REPLICATION" : "";
  if (absl::Status s = Run(
          pg, absl::StrCat("CREATE ROLE pgwarden LOGIN", role, "; GRANT pg_monitor TO pgwarden"),
          "postgres");
      !s.ok()) {
    return s;
  }
  if (absl::Status s = Run(pg, "CREATE EXTENSION IF NOT EXISTS pg_stat_statements", db); !s.ok()) {
    return s;
  }
  // Table creation left one entry per CREATE and INSERT: start from none.
  if (absl::Status s = Run(pg, "SELECT pg_stat_statements_reset()", db); !s.ok()) return s;
  // Top-level statements, a batch per psql call (one query string, which
  // pg_stat_statements splits into its statements).
  constexpr int kBatch = 1000;
  for (int first = 0; first < std::max(0, o.statements); first += kBatch) {
    std::string sql;
    for (int i = first; i < std::min(o.statements, first + kBatch); ++i) {
      absl::StrAppend(&sql, Shape(i, o.tables), ";\n");
    }
    if (absl::Status s = Run(pg, sql, db); !s.ok()) return s;
  }
  return absl::OkStatus();
}

std::string TargetLines(const ScaleOptions& o) {
  if (o.path == "stream") return "    change_stream:\n      enabled: true\n";
  if (o.path == "stats") return "    fast_path: false\n";
  return "";
}

int StatementEntries(const LocalPostgres& pg, const std::string& db) {
  absl::StatusOr<std::string> r = pg.Psql("SELECT count(*) FROM pg_stat_statements", db);
  int n = -1;
  if (!r.ok() || !absl::SimpleAtoi(*r, &n)) return -1;
  return n;
}

void WriteLoad::Start() {
  stop_ = false;
  thread_ = std::thread([this] { Run(); });
}

void WriteLoad::Stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

void WriteLoad::Run() {
  std::unique_ptr<pqxx::connection> conn;
  for (int64_t tick = 0; !stop_; ++tick) {
    absl::SleepFor(absl::Milliseconds(200));
    const int64_t table = 1 + tick % 5;
    try {
      if (!conn) conn = std::make_unique<pqxx::connection>(dsn_ + " application_name=bench-load");
      pqxx::work tx(*conn);
      tx.exec(absl::StrCat("INSERT INTO t", table,
                           " SELECT g, 'y' FROM generate_series(100001, 100010) g"));
      tx.exec(absl::StrCat("DELETE FROM t", table, " WHERE id > 100000"));
      tx.exec(absl::StrCat("UPDATE t", table, " SET v = 'u", tick, "' WHERE id = ", 1 + tick % 10));
      tx.commit();
      ++transactions_;
    } catch (const std::exception&) {
      ++errors_;
      conn.reset();
    }
  }
}

std::optional<double> CpuSeconds(pid_t pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/stat"));
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const size_t close = text.rfind(')');
  if (close == std::string::npos || close + 2 > text.size()) return std::nullopt;
  std::istringstream ss(text.substr(close + 2));
  std::string field;
  double ticks = 0;
  int i = 3;
  for (; i <= 15 && ss >> field; ++i) {
    if (i == 14 || i == 15) ticks += std::stod(field);
  }
  if (i <= 15) return std::nullopt;
  return ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
}

void BackendCpu::Poll() {
  // Those already seen first: a process that has just exited keeps the last
  // figure read.
  for (auto& [pid, s] : seen_) {
    if (std::optional<double> cpu = CpuSeconds(pid)) s.last = *cpu;
  }
  try {
    if (!conn_) conn_ = std::make_unique<pqxx::connection>(dsn_ + " application_name=bench-probe");
    pqxx::nontransaction tx(*conn_);
    pqxx::result r = tx.exec(
        "SELECT pid, backend_type = 'walsender' FROM pg_stat_activity "
        "WHERE application_name LIKE 'pgwarden%' AND pid <> pg_backend_pid()");
    for (const pqxx::row& row : r) {
      const auto pid = static_cast<pid_t>(row[0].as<int>());
      if (seen_.count(pid) != 0) continue;
      std::optional<double> cpu = CpuSeconds(pid);
      if (!cpu) continue;
      seen_[pid] = Seen{row[1].as<bool>(), *cpu, *cpu};
    }
  } catch (const std::exception&) {
    ++poll_errors_;
    conn_.reset();
  }
}

double BackendCpu::client_seconds() const {
  double sum = 0;
  for (const auto& [pid, s] : seen_) {
    if (!s.walsender) sum += s.last - s.first;
  }
  return sum;
}

double BackendCpu::walsender_seconds() const {
  double sum = 0;
  for (const auto& [pid, s] : seen_) {
    if (s.walsender) sum += s.last - s.first;
  }
  return sum;
}

}  // namespace pgwarden::bench
