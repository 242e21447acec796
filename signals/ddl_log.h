#ifndef PGWARDEN_SIGNALS_DDL_LOG_H_
#define PGWARDEN_SIGNALS_DDL_LOG_H_

#include <deque>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "signals/signal_event.h"
#include "signals/table_ref.h"
#include "sources/logged_statement.h"

namespace pgwarden {

// DdlLog keeps the destructive schema changes that the server log showed
// (ALTER TABLE ... DROP COLUMN / ALTER COLUMN ... TYPE, DROP SCHEMA, DROP
// DATABASE; nothing else is kept, so ALTER ROLE ... PASSWORD never is), to
// name who ran the change that a destructive_ddl event reports. A logged
// statement is only a claim (log_statement logs what was sent, and it may
// fail): the catalogs decide whether anything is paged, the log only names
// the role. Bounded: the last `keep`, at most kMax statements.
class DdlLog {
 public:
  explicit DdlLog(absl::Duration keep = absl::Minutes(10)) : keep_(keep) {}

  // Add keeps `s` (logged by now) if it is a destructive schema change, and
  // returns true if it may change what `database`'s watched tables hold (an
  // ALTER of one of `watched`, a DROP SCHEMA of one of their schemas): the
  // caller then reads the catalog fingerprint at once.
  bool Add(const LoggedStatement& s, absl::Time now, const std::string& database,
           const std::vector<TableRef>& watched);

  // Explain returns the newest kept statement that explains `ev` (a
  // destructive_ddl event of `database`: its figures' "change" says which
  // statement can), or null.
  const LoggedStatement* Explain(const SignalEvent& ev, const std::string& database) const;

  // Attribute names Explain's statement in `ev`: figures.attribution
  // {source: "server_log", role, database, statement} and "; by role R
  // (server log: STATEMENT)" in its description. Returns the role ("" when
  // no statement explains it or the log line named no user).
  std::string Attribute(SignalEvent* ev, const std::string& database) const;

  size_t size() const { return kept_.size(); }
  static constexpr size_t kMax = 500;

 private:
  struct Kept {
    LoggedStatement statement;
    absl::Time at;
  };
  absl::Duration keep_;
  std::deque<Kept> kept_;  // oldest first
};

}  // namespace pgwarden

#endif  // PGWARDEN_SIGNALS_DDL_LOG_H_
