#ifndef PGWARDEN_REMEDIATION_OBJECT_ACCESS_H_
#define PGWARDEN_REMEDIATION_OBJECT_ACCESS_H_

#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "nlohmann/json.hpp"
#include "pg/session.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "signals/table_ref.h"

namespace pgwarden {

// ObjectError is one watched object the agent's role may not read: a
// schema without USAGE (its tables are then skipped), or a table without
// SELECT in a readable schema (its uncommitted writes are not measured).
struct ObjectError {
  std::string kind;              // "schema" or "table"
  std::string name;              // "archive" or "archive.orders"
  std::string privilege;         // "USAGE" or "SELECT"
  std::string error;             // e.g. "permission denied for schema archive"
  std::string grant_sql;         // the statement that fixes it
  std::vector<TableRef> tables;  // the watched tables it hides

  nlohmann::json ToJson() const;
  bool operator<(const ObjectError& o) const {
    return std::tie(kind, name) < std::tie(o.kind, o.name);
  }
};

// FindUnreadable lists, from the catalogs alone (never a cast that needs the
// privilege it checks), the objects among `watched` the connected role may
// not read.
absl::StatusOr<std::vector<ObjectError>> FindUnreadable(pg::Session& conn,
                                                        const std::vector<TableRef>& watched);

// TextArray is a text[] literal ({"a","b"}) for a statement parameter.
std::string TextArray(const std::vector<std::string>& items);

// ObjectErrors keeps, per target, the objects currently unreadable: each is
// logged once when first seen (and once when readable again), counted in
// pgwarden_object_errors_total{target,object_kind}, and listed in /status.
// Thread-safe; one process-wide instance.
class ObjectErrors {
 public:
  static ObjectErrors& Get();

  // Attach creates the target's series (at 0) in `errors`
  // ({target,object_kind}), where later errors are counted, and in
  // `own_rollbacks` ({target}).
  void Attach(const std::string& target, prometheus::Family<prometheus::Counter>* errors,
              prometheus::Family<prometheus::Counter>* own_rollbacks);
  // SetOwnRollbacks mirrors the target's cumulative own rollbacks
  // (DatabaseStat::own_rollbacks) into its counter.
  void SetOwnRollbacks(const std::string& target, int64_t total);
  // Update replaces the target's list; returns the objects new to it.
  std::vector<ObjectError> Update(const std::string& target, std::vector<ObjectError> now);
  // Json lists the target's unreadable objects (an empty array when none).
  nlohmann::json Json(const std::string& target) const;
  // Count is how many times the target had a new unreadable object.
  int64_t Count(const std::string& target) const;

 private:
  mutable absl::Mutex mu_;
  std::map<std::string, std::vector<ObjectError>> current_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, int64_t> counts_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, prometheus::Family<prometheus::Counter>*> families_ ABSL_GUARDED_BY(mu_);
  struct Mirrored {
    prometheus::Counter* counter = nullptr;
    int64_t last = 0;
  };
  std::map<std::string, Mirrored> own_ ABSL_GUARDED_BY(mu_);
};

}  // namespace pgwarden

#endif  // PGWARDEN_REMEDIATION_OBJECT_ACCESS_H_
