#ifndef PGWARDEN_REMEDIATION_AUDIT_H_
#define PGWARDEN_REMEDIATION_AUDIT_H_

#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"
#include "remediation/config.h"

namespace pgwarden {

// ActionResult is the outcome of one action: done, dry_run (would have run),
// refused by a guard, or failed.
enum class ActionResult { kDone, kDryRun, kRefused, kFailed };

// ActionResultName returns "done", "dry_run", "refused" or "failed".
const char* ActionResultName(ActionResult result);

// AuditRecord is one line of the audit file: an action taken, simulated
// (dry_run), refused (with its reason), failed, or an undo.
struct AuditRecord {
  int64_t id = 0;  // assigned by AuditLog::Append, increasing across restarts
  absl::Time time;
  std::string incident;
  std::string target;
  RemediationMode mode = RemediationMode::kDryRun;
  ActionKind action = ActionKind::kNologin;
  std::string role;
  std::string schema;
  std::string table;
  ActionResult result = ActionResult::kRefused;
  std::string reason;
  std::string sql;       // exact SQL run (or that would have run)
  std::string undo_sql;  // exact SQL that undoes it ("" if it cannot be undone)
  int64_t undoes = 0;    // for action "undo": the id undone
  nlohmann::json details = nlohmann::json::object();

  // ToJson is the audit line (without the newline).
  nlohmann::json ToJson() const;
  // FromJson parses one audit line; an unknown mode, action or result is an
  // error naming the field.
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

  // ReadAll parses every record of an audit file; a bad line is a DataLoss
  // error naming the file and line.
  static absl::StatusOr<std::vector<AuditRecord>> ReadAll(const std::string& path);

  // Find returns the record `id` of an audit file (NotFound if absent).
  static absl::StatusOr<AuditRecord> Find(const std::string& path, int64_t id);

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
  void Remember(const AuditRecord& record) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::string path_;
  mutable absl::Mutex mu_;
  int64_t last_id_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t known_size_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<Acted> acted_ ABSL_GUARDED_BY(mu_);
};

}  // namespace pgwarden

#endif  // PGWARDEN_REMEDIATION_AUDIT_H_
