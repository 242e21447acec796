#include "fastpath/statement_text.h"

#include <cctype>
#include <string>
#include <utility>

#include "absl/strings/ascii.h"
#include "remediation/sql_text.h"

namespace pgwarden {
namespace {

// Word is an identifier-like token: lower-cased when unquoted, verbatim when
// "quoted"; `punct` holds one punctuation character instead.
struct Word {
  std::string text;
  bool quoted = false;
  char punct = 0;
};

bool IsIdentStart(char c) {
  return std::isalpha(static_cast<unsigned char>(c)) || c == '_' ||
         static_cast<unsigned char>(c) >= 0x80;
}
bool IsIdentChar(char c) {
  return IsIdentStart(c) || std::isdigit(static_cast<unsigned char>(c)) || c == '$';
}

// Words splits SQL into identifiers and the punctuation . ( ) ; , skipping
// comments, string literals and dollar-quoted bodies. At most `limit` words.
std::vector<Word> Words(absl::string_view s, size_t limit) {
  std::vector<Word> out;
  size_t i = 0;
  const size_t n = s.size();
  while (i < n && out.size() < limit) {
    const char c = s[i];
    if (c == '-' && i + 1 < n && s[i + 1] == '-') {
      while (i < n && s[i] != '\n') ++i;
    } else if (c == '/' && i + 1 < n && s[i + 1] == '*') {
      const size_t end = s.find("*/", i + 2);
      i = end == absl::string_view::npos ? n : end + 2;
    } else if (c == '\'') {
      ++i;
      while (i < n) {
        if (s[i] == '\'' && i + 1 < n && s[i + 1] == '\'') {
          i += 2;
        } else if (s[i++] == '\'') {
          break;
        }
      }
    } else if (c == '$' && i + 1 < n && (s[i + 1] == '$' || IsIdentStart(s[i + 1]))) {
      size_t j = i + 1;
      while (j < n && s[j] != '$' && IsIdentChar(s[j])) ++j;
      if (j >= n || s[j] != '$') {
        i = j;
        continue;
      }
      const absl::string_view tag = s.substr(i, j - i + 1);
      const size_t end = s.find(tag, j + 1);
      i = end == absl::string_view::npos ? n : end + tag.size();
    } else if (c == '"') {
      Word w;
      w.quoted = true;
      ++i;
      while (i < n) {
        if (s[i] == '"' && i + 1 < n && s[i + 1] == '"') {
          w.text.push_back('"');
          i += 2;
        } else if (s[i] == '"') {
          ++i;
          break;
        } else {
          w.text.push_back(s[i++]);
        }
      }
      out.push_back(std::move(w));
    } else if (IsIdentStart(c)) {
      size_t j = i;
      while (j < n && IsIdentChar(s[j])) ++j;
      out.push_back({absl::AsciiStrToLower(s.substr(i, j - i)), false, 0});
      i = j;
    } else if (c == '.' || c == '(' || c == ')' || c == ';' || c == ',') {
      out.push_back({"", false, c});
      ++i;
    } else {
      ++i;
    }
  }
  return out;
}

bool IsWord(const std::vector<Word>& w, size_t i, absl::string_view text) {
  return i < w.size() && !w[i].quoted && w[i].punct == 0 && w[i].text == text;
}
bool IsIdent(const std::vector<Word>& w, size_t i) { return i < w.size() && w[i].punct == 0; }

// ParseName reads ident[.ident] at w[i].
bool ParseName(const std::vector<Word>& w, size_t i, TableRef* ref) {
  if (!IsIdent(w, i)) return false;
  if (i + 2 < w.size() && w[i + 1].punct == '.' && IsIdent(w, i + 2)) {
    ref->schema = w[i].text;
    ref->table = w[i + 2].text;
  } else {
    ref->schema.clear();
    ref->table = w[i].text;
  }
  return true;
}

// RowWriteKeywords counts DELETE FROM, INSERT INTO and UPDATE (but FOR
// [NO KEY] UPDATE and DO UPDATE) anywhere: more than FindTableWrites found
// means a write it could not place (the main statement after a WITH).
size_t RowWriteKeywords(const std::vector<Word>& w) {
  size_t n = 0;
  for (size_t i = 0; i < w.size(); ++i) {
    const bool delete_from = IsWord(w, i, "delete") && IsWord(w, i + 1, "from");
    const bool insert_into = IsWord(w, i, "insert") && IsWord(w, i + 1, "into");
    const bool update =
        IsWord(w, i, "update") &&
        !(i > 0 && (IsWord(w, i - 1, "for") || IsWord(w, i - 1, "key") || IsWord(w, i - 1, "do")));
    if (delete_from || insert_into || update) ++n;
  }
  return n;
}

bool SameRef(const TableRef& a, const TableRef& b) {
  return a.schema == b.schema && a.table == b.table;
}

ChangeVerb ToChangeVerb(WriteVerb v) {
  switch (v) {
    case WriteVerb::kUpdate:
      return ChangeVerb::kUpdate;
    case WriteVerb::kTruncate:
      return ChangeVerb::kTruncate;
    case WriteVerb::kDelete:
    case WriteVerb::kDrop:
      break;
  }
  return ChangeVerb::kDelete;
}

// ClassifyWrites turns FindTableWrites' findings (DROP left out) into a
// class: all TRUNCATE, or exactly one (verb, table), else ambiguous.
StatementClass ClassifyWrites(const std::vector<TableWrite>& writes) {
  StatementClass out;
  bool all_truncate = true;
  for (const TableWrite& tw : writes)
    all_truncate = all_truncate && tw.verb == WriteVerb::kTruncate;
  for (const TableWrite& tw : writes) {
    const ChangeVerb verb = ToChangeVerb(tw.verb);
    if (out.tables.empty()) {
      out.verb = verb;
      out.tables.push_back(tw.table);
      continue;
    }
    bool seen = false;
    for (const TableRef& t : out.tables) seen = seen || SameRef(t, tw.table);
    if (all_truncate) {
      if (!seen) out.tables.push_back(tw.table);
    } else if (!seen || verb != out.verb) {
      out.kind = StatementKind::kAmbiguous;
      return out;
    }
  }
  out.kind = StatementKind::kWrite;
  return out;
}

}  // namespace

StatementClass ClassifyStatement(absl::string_view text) {
  const std::vector<Word> w = Words(text, 100000);
  StatementClass out;
  if (IsWord(w, 0, "rollback") || IsWord(w, 0, "abort")) {
    out.kind = StatementKind::kRollback;
    return out;
  }
  std::vector<TableWrite> writes;
  for (TableWrite& tw : FindTableWrites(text)) {
    if (tw.verb != WriteVerb::kDrop) writes.push_back(std::move(tw));
  }
  if (!writes.empty()) {
    size_t row_writes = 0;
    for (const TableWrite& tw : writes) row_writes += tw.verb != WriteVerb::kTruncate ? 1 : 0;
    if (RowWriteKeywords(w) > row_writes) {
      out.kind = StatementKind::kAmbiguous;
      return out;
    }
    return ClassifyWrites(writes);
  }
  TableRef target;
  if (IsWord(w, 0, "insert") && IsWord(w, 1, "into") && ParseName(w, 2, &target)) {
    // A second INSERT (a multi-statement text) makes it ambiguous.
    for (size_t i = 3; i + 1 < w.size(); ++i) {
      if (IsWord(w, i, "insert") && IsWord(w, i + 1, "into")) {
        out.kind = StatementKind::kAmbiguous;
        return out;
      }
    }
    out.kind = StatementKind::kWrite;
    out.verb = ChangeVerb::kInsert;
    out.tables.push_back(std::move(target));
  }
  return out;
}

bool CalledProcedure(absl::string_view text, TableRef* procedure) {
  const std::vector<Word> w = Words(text, 8);
  return IsWord(w, 0, "call") && ParseName(w, 1, procedure);
}

}  // namespace pgwarden
