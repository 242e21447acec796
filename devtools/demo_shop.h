#ifndef PGWARDEN_AGENT_DEMO_SHOP_H_
#define PGWARDEN_AGENT_DEMO_SHOP_H_

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "devtools/local_postgres.h"

namespace pgwarden {

// The demo shop: database `shop` owned by role shop_owner, tables customers
// and orders, the agent's least-privilege role `pgwarden`, an application
// role `app` and the role `cleanup_job` whose script is run against the
// wrong database.
inline constexpr char kShopDatabase[] = "shop";
inline constexpr char kCleanupRole[] = "cleanup_job";
inline constexpr char kCleanupPassword[] = "cleanup-pw";
inline constexpr char kAppRole[] = "app";
inline constexpr char kAppPassword[] = "app-pw";

// CreateShop creates the roles, the database and `customers` rows of
// customers (plus some orders), then ANALYZEs.
absl::Status CreateShop(const LocalPostgres& pg, int64_t customers);

// CleanupScriptSql is a psql script that deletes from `table` in batches of
// `batch` rows, each its own transaction, pausing `pause` between batches.
std::string CleanupScriptSql(const std::string& table, int batches, int batch,
                             absl::Duration pause);

// StartCleanupJob writes the script into the cluster's directory and runs it
// with psql as role cleanup_job (application_name "nightly-cleanup"). The
// caller stops the process by pid.
absl::StatusOr<pid_t> StartCleanupJob(const LocalPostgres& pg, const std::string& script_sql);

// StartPsqlJob runs `script_sql` with psql against the shop database as
// `role` (password "" for a trusted role) with application_name `app`.
absl::StatusOr<pid_t> StartPsqlJob(const LocalPostgres& pg, const std::string& script_sql,
                                   const std::string& role, const std::string& password,
                                   const std::string& app);

// ChurnWorkload is normal application traffic on its own connection as role
// app: inserts, small deletes, updates, an occasional ANALYZE.
class ChurnWorkload {
 public:
  explicit ChurnWorkload(std::string dsn) : dsn_(std::move(dsn)) {}
  ~ChurnWorkload() { Stop(); }
  void Start();
  void Stop();
  int64_t transactions() const { return transactions_; }
  int64_t errors() const { return errors_; }

 private:
  void Run();
  std::string dsn_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> transactions_{0};
  std::atomic<int64_t> errors_{0};
};

}  // namespace pgwarden

#endif  // PGWARDEN_AGENT_DEMO_SHOP_H_
