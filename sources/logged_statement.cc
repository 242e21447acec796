#include "sources/logged_statement.h"

#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace pgwarden {
namespace {

// StripStatementLabel removes "statement: " or "execute <name>: " from the
// start of a LOG message; false if the message is neither.
bool StripStatementLabel(absl::string_view* msg) {
  // log_error_verbosity = verbose puts the SQLSTATE first.
  if (msg->size() > 7 && (*msg)[5] == ':' && (*msg)[6] == ' ' && msg->substr(0, 5) == "00000") {
    msg->remove_prefix(7);
  }
  if (absl::ConsumePrefix(msg, "statement: ")) return true;
  if (!absl::StartsWith(*msg, "execute ")) return false;
  const size_t colon = msg->find(": ");
  if (colon == absl::string_view::npos) return false;
  msg->remove_prefix(colon + 2);
  return true;
}

// CsvFields splits one csvlog line into its fields ("" quoting; a quoted
// field left open at the end of the line is the rest of the line).
std::vector<std::string> CsvFields(absl::string_view line) {
  std::vector<std::string> fields(1);
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted) {
      if (c != '"') {
        fields.back().push_back(c);
      } else if (i + 1 < line.size() && line[i + 1] == '"') {
        fields.back().push_back('"');
        ++i;
      } else {
        quoted = false;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      fields.emplace_back();
    } else {
      fields.back().push_back(c);
    }
  }
  return fields;
}

// UserAndDatabase reads the session's user and database from a stderr
// prefix: "user=alice db=shop" (any separators), or the last "alice@shop".
void UserAndDatabase(absl::string_view prefix, LoggedStatement* out) {
  for (absl::string_view tok : absl::StrSplit(prefix, absl::ByAnyChar(" ,[]()"))) {
    if (absl::ConsumePrefix(&tok, "user=")) out->user = std::string(tok);
    if (absl::ConsumePrefix(&tok, "db=") || absl::ConsumePrefix(&tok, "database=")) {
      out->database = std::string(tok);
    }
  }
  if (!out->user.empty() || !out->database.empty()) return;
  std::vector<absl::string_view> words = absl::StrSplit(prefix, ' ', absl::SkipEmpty());
  for (auto it = words.rbegin(); it != words.rend(); ++it) {
    const size_t at = it->find('@');
    if (at == absl::string_view::npos || at == 0) continue;
    out->user = std::string(it->substr(0, at));
    out->database = std::string(it->substr(at + 1));
    return;
  }
}

bool ParseCsv(absl::string_view line, LoggedStatement* out) {
  // log_time,user_name,database_name,process_id,connection_from,session_id,
  // session_line_num,command_tag,session_start_time,virtual_transaction_id,
  // transaction_id,error_severity,sql_state_code,message,...
  std::vector<std::string> f = CsvFields(line);
  if (f.size() < 14 || f[11] != "LOG") return false;
  absl::string_view msg = f[13];
  if (!StripStatementLabel(&msg)) return false;
  out->user = f[1];
  out->database = f[2];
  out->statement = std::string(msg.substr(0, kMaxLoggedStatementBytes));
  return true;
}

}  // namespace

bool ParseLoggedStatement(absl::string_view line, LoggedStatement* out) {
  *out = LoggedStatement{};
  if (!line.empty() && absl::ascii_isdigit(line[0]) && absl::StrContains(line, ",LOG,")) {
    if (ParseCsv(line, out)) return true;
  }
  const size_t log = line.find("LOG:  ");
  if (log == absl::string_view::npos) return false;
  absl::string_view msg = line.substr(log + 6);
  if (!StripStatementLabel(&msg)) return false;
  UserAndDatabase(line.substr(0, log), out);
  out->statement =
      std::string(absl::StripTrailingAsciiWhitespace(msg.substr(0, kMaxLoggedStatementBytes)));
  return true;
}

bool IsSchemaChange(absl::string_view statement) {
  statement = absl::StripLeadingAsciiWhitespace(statement);
  const absl::string_view word = statement.substr(0, statement.find_first_of(" \t\n("));
  return absl::EqualsIgnoreCase(word, "alter") || absl::EqualsIgnoreCase(word, "drop");
}

}  // namespace pgwarden
