#ifndef PGWARDEN_TESTS_REMEDIATION_TEST_UTIL_H_
#define PGWARDEN_TESTS_REMEDIATION_TEST_UTIL_H_

// Shared set-up for the remediation integration tests: a throwaway cluster
// with a `shop` database whose tables belong to the NOLOGIN role app_owner,
// and a least-privilege agent role `pgwarden`.

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "devtools/local_postgres.h"
#include "pg/session.h"
#include "pg/test_connection.h"
#include "remediation/audit.h"
#include "remediation/remediator.h"

namespace pgwarden {
namespace testing {

// kAgentGrants are the statements that make `pgwarden` a least-privilege
// remediation agent (documented in the report / README).
inline const std::vector<std::string>& AgentGrants() {
  static const std::vector<std::string> grants = {
      "CREATE ROLE pgwarden LOGIN CREATEROLE",
      "GRANT pg_monitor TO pgwarden",
      "GRANT pg_signal_backend TO pgwarden",
      "GRANT app_owner TO pgwarden",
  };
  return grants;
}

// Shop is a running cluster with database `shop`.
class Shop {
 public:
  // Start creates the cluster, database, app_owner, the agent role and a
  // table public.customers with `rows` rows.
  static std::unique_ptr<Shop> Start(int64_t rows, bool agent_privileges = true);

  LocalPostgres& pg() { return *pg_; }
  // Exec runs SQL as the superuser in `shop`.
  void Exec(const std::string& sql);
  // Scalar runs a one-value query as the superuser in `shop`.
  std::string Scalar(const std::string& sql);
  int64_t Count(const std::string& table = "customers");
  // AddRole creates a LOGIN role with password "pw" (name quoted by the
  // library) and grants `privileges` on public.customers (as its owner).
  void AddRole(const std::string& name, const std::string& privileges);
  bool CanLogin(const std::string& role);
  bool HasPrivilege(const std::string& role, const std::string& table, const std::string& priv);
  int SessionsOf(const std::string& role);
  // AgentConnection opens the agent's session as `pgwarden` to `shop`, with
  // the product's connection builder (throws if it cannot connect).
  std::unique_ptr<pg::Session> AgentConnection();
  // Connect connects as `role` (password "pw") with an application name: a
  // client the test plays (throws if it cannot connect).
  std::unique_ptr<pg::ClientConnection> Connect(const std::string& role, const std::string& app);
  // SpawnPsql runs `sql` through psql as `role` in `shop`; returns its pid.
  pid_t SpawnPsql(const std::string& role, const std::string& app, const std::string& sql);
  std::string Dsn(const std::string& user, const std::string& password = "");

  const std::string& tmp() const { return tmp_; }

  ~Shop();

 private:
  std::unique_ptr<LocalPostgres> pg_;
  std::unique_ptr<pg::ClientConnection> admin_;
  std::string tmp_;
};

// EnforceConfig is remediation in enforce mode with postgres and pgwarden
// protected.
RemediationConfig EnforceConfig();

// HandAttribution is an attribution input for guard tests: one culprit.
Attribution HandAttribution(const std::string& role, int64_t rows, double confidence);

// Request asks to act on attribution `a` for incident `incident` on
// public.customers of target shop.
RemediationRequest Request(const std::string& incident, Attribution a);

// AuditLines reads the audit file (empty on error).
std::vector<AuditRecord> AuditLines(const std::string& path);

// WaitFor polls `cond` every 50ms for at most `seconds`.
template <typename F>
bool WaitFor(F cond, double seconds) {
  const int steps = static_cast<int>(seconds * 20);
  for (int i = 0; i < steps; ++i) {
    if (cond()) return true;
    ::usleep(50000);
  }
  return cond();
}

}  // namespace testing
}  // namespace pgwarden

#endif  // PGWARDEN_TESTS_REMEDIATION_TEST_UTIL_H_
