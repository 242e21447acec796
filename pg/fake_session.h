#ifndef PGWARDEN_PG_FAKE_SESSION_H_
#define PGWARDEN_PG_FAKE_SESSION_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/optional.h"
#include "pg/session.h"

namespace pgwarden {
namespace pg {

// FakeSession answers statements from a script, for unit tests without a
// database. Each answer is registered for statements containing a given
// text; the most recently registered match wins; a statement that matches
// nothing gets `default_answer` (an empty result unless changed). Every
// statement is recorded. Quoting follows PostgreSQL's rules with
// standard_conforming_strings on, as libpq's does.
class FakeSession : public Session {
 public:
  // Call is one statement the code under test ran.
  struct Call {
    std::string sql;
    Params params;
    bool in_transaction = false;
    absl::Duration timeout;
  };

  // Rows builds a result from rows of text fields (nullopt is NULL).
  static Result Rows(const std::vector<std::vector<absl::optional<std::string>>>& rows);

  // On answers statements containing `sql_part` with `answer`.
  void On(std::string sql_part, absl::StatusOr<Result> answer);
  // OnSequence answers successive matching statements in turn (the last
  // answer repeats).
  void OnSequence(std::string sql_part, std::vector<absl::StatusOr<Result>> answers);

  absl::StatusOr<Result> Query(absl::string_view sql, const Params& params = {}) override;
  absl::StatusOr<Result> Execute(absl::string_view sql, absl::Duration timeout,
                                 const Params& params = {}) override;
  std::string QuoteName(absl::string_view name) const override;
  std::string Quote(absl::string_view value) const override;
  int BackendPid() const override { return open_ ? backend_pid_ : 0; }
  bool IsOpen() const override { return open_; }

  void set_backend_pid(int pid) { backend_pid_ = pid; }
  void set_open(bool open) { open_ = open; }
  void set_default_answer(absl::StatusOr<Result> answer) { default_ = std::move(answer); }
  const std::vector<Call>& calls() const { return calls_; }
  // Executed returns the statements run inside Execute, in order.
  std::vector<std::string> Executed() const;

 private:
  struct Script {
    std::string sql_part;
    std::vector<absl::StatusOr<Result>> answers;
    size_t next = 0;
  };
  absl::StatusOr<Result> Answer(absl::string_view sql);

  std::vector<Script> scripts_;
  std::vector<Call> calls_;
  absl::StatusOr<Result> default_ = Result{};
  int backend_pid_ = 4242;
  bool open_ = true;
};

}  // namespace pg
}  // namespace pgwarden

#endif  // PGWARDEN_PG_FAKE_SESSION_H_
