#include "pg/fake_session.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"

namespace pgwarden {
namespace pg {

Result FakeSession::Rows(const std::vector<std::vector<absl::optional<std::string>>>& rows) {
  Result out;
  for (const auto& r : rows) out.rows.emplace_back(r);
  return out;
}

void FakeSession::On(std::string sql_part, absl::StatusOr<Result> answer) {
  scripts_.push_back({std::move(sql_part), {std::move(answer)}, 0});
}

void FakeSession::OnSequence(std::string sql_part, std::vector<absl::StatusOr<Result>> answers) {
  scripts_.push_back({std::move(sql_part), std::move(answers), 0});
}

absl::StatusOr<Result> FakeSession::Answer(absl::string_view sql) {
  if (!open_) return absl::UnavailableError("connection lost: fake session closed");
  for (auto it = scripts_.rbegin(); it != scripts_.rend(); ++it) {
    if (!absl::StrContains(sql, it->sql_part) || it->answers.empty()) continue;
    const size_t i = std::min(it->next, it->answers.size() - 1);
    ++it->next;
    return it->answers[i];
  }
  return default_;
}

absl::StatusOr<Result> FakeSession::Query(absl::string_view sql, const Params& params) {
  calls_.push_back({std::string(sql), params, false, absl::ZeroDuration()});
  return Answer(sql);
}

absl::StatusOr<Result> FakeSession::Execute(absl::string_view sql, absl::Duration timeout,
                                            const Params& params) {
  calls_.push_back({std::string(sql), params, true, timeout});
  return Answer(sql);
}

std::string FakeSession::QuoteName(absl::string_view name) const {
  return absl::StrCat("\"", absl::StrReplaceAll(name, {{"\"", "\"\""}}), "\"");
}

std::string FakeSession::Quote(absl::string_view value) const {
  return absl::StrCat("'", absl::StrReplaceAll(value, {{"'", "''"}}), "'");
}

std::vector<std::string> FakeSession::Executed() const {
  std::vector<std::string> out;
  for (const Call& c : calls_) {
    if (c.in_transaction) out.push_back(c.sql);
  }
  return out;
}

}  // namespace pg
}  // namespace pgwarden
