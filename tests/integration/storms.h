#ifndef PGWARDEN_TESTS_INTEGRATION_STORMS_H_
#define PGWARDEN_TESTS_INTEGRATION_STORMS_H_

// Error storms for the integration tests: failed logins and a rollback
// storm, each on its own thread, bounded in time and stopped by the caller
// (or at destruction).

#include <atomic>
#include <pqxx/pqxx>
#include <string>
#include <thread>

#include "absl/time/clock.h"

namespace pgwarden::testing {

// FailedLogins tries to log in as `role` with a wrong password, `per_second`
// times a second (0: as fast as it can), until stopped; counts attempts.
class FailedLogins {
 public:
  FailedLogins(std::string dsn, double per_second) : dsn_(std::move(dsn)), rate_(per_second) {
    thread_ = std::thread([this] {
      while (!stop_) {
        try {
          pqxx::connection c(dsn_);
        } catch (const std::exception&) {
          ++attempts_;
        }
        if (rate_ > 0) absl::SleepFor(absl::Seconds(1.0 / rate_));
      }
    });
  }
  ~FailedLogins() { Stop(); }
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  int64_t attempts() const { return attempts_; }

 private:
  std::string dsn_;
  double rate_;
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> attempts_{0};
  std::thread thread_;
};

// RollbackStorm runs transactions that execute `sql` and roll back, as fast
// as one connection goes, for at most `limit` or until stopped.
class RollbackStorm {
 public:
  RollbackStorm(std::string dsn, std::string sql, absl::Duration limit)
      : dsn_(std::move(dsn)), sql_(std::move(sql)) {
    thread_ = std::thread([this, limit] {
      try {
        pqxx::connection c(dsn_);
        const absl::Time end = absl::Now() + limit;
        while (!stop_ && absl::Now() < end) {
          pqxx::work tx(c);
          tx.exec(sql_);
          tx.abort();
          ++rollbacks_;
        }
      } catch (const std::exception&) {
        // the cluster went away: the test's own checks report it
      }
    });
  }
  ~RollbackStorm() { Stop(); }
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  int64_t rollbacks() const { return rollbacks_; }

 private:
  std::string dsn_;
  std::string sql_;
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> rollbacks_{0};
  std::thread thread_;
};

}  // namespace pgwarden::testing

#endif  // PGWARDEN_TESTS_INTEGRATION_STORMS_H_
