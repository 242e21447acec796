#ifndef PGWARDEN_REMEDIATION_AUDIT_H_
#define PGWARDEN_REMEDIATION_AUDIT_H_

#include <cstdint>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"

namespace pgwarden {

// AuditRecord is one line of the audit file: an action taken, simulated
// (dry_run), refused (with its reason), failed, or an undo.
struct AuditRecord {
  int64_t id = 0;  // assigned by AuditLog::Append, increasing across restarts
  absl::Time time;
  std::string incident;
  std::string target;
  std::string mode;    // off | dry-run | enforce
  std::string action;  // nologin | revoke_writes | terminate | cancel | undo
  std::string role;
  std::string schema;
  std::string table;
  std::string result;  // done | dry_run | refused | failed
  std::string reason;
  std::string sql;       // exact SQL run (or that would have run)
  std::string undo_sql;  // exact SQL that undoes it ("" if it cannot be undone)
  int64_t undoes = 0;    // for action "undo": the id undone
  nlohmann::json details = nlohmann::json::object();

  // ToJson is the audit line (without the newline).
  nlohmann::json ToJson() const;
  // FromJson parses one audit line.
  static absl::StatusOr<AuditRecord> FromJson(const nlohmann::json& j);
};

// AuditLog appends records to an append-only JSON-lines file. Open returns
// one shared instance per path in this process; ids stay unique across
// processes sharing the file (flock while appending). Thread-safe.
class AuditLog {
 public:
  // Open creates the file (and its directory) if needed and reads the
  // existing records to continue the id sequence and the rate-limit memory.
  static absl::StatusOr<std::shared_ptr<AuditLog>> Open(const std::string& path);

  // ReadAll parses every record of an audit file.
  static absl::StatusOr<std::vector<AuditRecord>> ReadAll(const std::string& path);

  // Append assigns record->id, writes the line and fsyncs it.
  absl::Status Append(AuditRecord* record);

  // RolesActedOnSince returns the roles with a done or dry_run incident or
  // session action at or after `since` (the rate limiter's memory).
  std::set<std::string> RolesActedOnSince(absl::Time since) const;

  const std::string& path() const { return path_; }

  explicit AuditLog(std::string path) : path_(std::move(path)) {}

 private:
  struct Acted {
    absl::Time time;
    std::string role;
  };
  absl::Status Load();
  void Remember(const AuditRecord& record);

  const std::string path_;
  mutable std::mutex mu_;
  int64_t last_id_ = 0;
  int64_t known_size_ = 0;
  std::vector<Acted> acted_;
};

}  // namespace pgwarden

#endif  // PGWARDEN_REMEDIATION_AUDIT_H_
