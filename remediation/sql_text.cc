#include "remediation/sql_text.h"

#include <cctype>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace pgwarden {
namespace {

struct Token {
  enum Kind { kWord, kQuoted, kPunct, kOther } kind;
  std::string text;  // words lower-cased; quoted identifiers verbatim
  int depth = 0;     // parenthesis depth
  bool IsWord(absl::string_view w) const { return kind == kWord && text == w; }
  bool IsIdent() const { return kind == kWord || kind == kQuoted; }
  bool IsPunct(char c) const { return kind == kPunct && text.size() == 1 && text[0] == c; }
};

bool IsIdentStart(char c) {
  return std::isalpha(static_cast<unsigned char>(c)) || c == '_' ||
         static_cast<unsigned char>(c) >= 0x80;
}
bool IsIdentChar(char c) {
  return IsIdentStart(c) || std::isdigit(static_cast<unsigned char>(c)) || c == '$';
}

std::vector<Token> Tokenize(absl::string_view s);

// SkipStringLiteral returns the index just past the '...' literal opening at
// s[i] ('' inside is an escaped quote; unterminated: the end of s).
size_t SkipStringLiteral(absl::string_view s, size_t i) {
  const size_t n = s.size();
  ++i;
  while (i < n) {
    if (s[i] == '\'' && i + 1 < n && s[i + 1] == '\'') {
      i += 2;
    } else if (s[i] == '\'') {
      ++i;
      break;
    } else {
      ++i;
    }
  }
  return i;
}

// ReadQuotedIdent reads the "..." identifier opening at s[i] into *ident
// ("" inside is one '"') and returns the index just past it.
size_t ReadQuotedIdent(absl::string_view s, size_t i, std::string* ident) {
  const size_t n = s.size();
  ++i;
  while (i < n) {
    if (s[i] == '"' && i + 1 < n && s[i + 1] == '"') {
      ident->push_back('"');
      i += 2;
    } else if (s[i] == '"') {
      ++i;
      break;
    } else {
      ident->push_back(s[i++]);
    }
  }
  return i;
}

// ReadDollarQuote handles a '$' at s[i] followed by '$' or an identifier
// start: a $tag$ ... $tag$ body is tokenized as statements between two ';'
// tokens at `depth`. Returns the index to continue at.
size_t ReadDollarQuote(absl::string_view s, size_t i, int depth, std::vector<Token>* out) {
  const size_t n = s.size();
  size_t j = i + 1;
  while (j < n && s[j] != '$' && IsIdentChar(s[j])) ++j;
  if (j >= n || s[j] != '$') return j;
  const std::string tag(s.substr(i, j - i + 1));
  const size_t end = s.find(tag, j + 1);
  const size_t body_end = end == absl::string_view::npos ? n : end;
  // A dollar-quoted body may be PL/pgSQL (DO blocks, functions): scan
  // it as statements too.
  out->push_back({Token::kPunct, ";", depth});
  for (Token& inner : Tokenize(s.substr(j + 1, body_end - j - 1))) {
    inner.depth += depth;
    out->push_back(std::move(inner));
  }
  out->push_back({Token::kPunct, ";", depth});
  return end == absl::string_view::npos ? n : end + tag.size();
}

// OtherEnd returns where a run of other characters (operators, numbers,
// placeholders) starting at s[i] ends.
size_t OtherEnd(absl::string_view s, size_t i) {
  const size_t n = s.size();
  size_t j = i + 1;
  while (j < n && !std::isspace(static_cast<unsigned char>(s[j])) && !IsIdentStart(s[j]) &&
         s[j] != '(' && s[j] != ')' && s[j] != ';' && s[j] != ',' && s[j] != '\'' && s[j] != '"' &&
         s[j] != '.') {
    ++j;
  }
  return j;
}

// Tokenize splits SQL into tokens; ';' becomes a punctuation token.
std::vector<Token> Tokenize(absl::string_view s) {
  std::vector<Token> out;
  int depth = 0;
  size_t i = 0;
  const size_t n = s.size();
  while (i < n) {
    const char c = s[i];
    if (std::isspace(static_cast<unsigned char>(c))) {
      ++i;
    } else if (c == '-' && i + 1 < n && s[i + 1] == '-') {
      while (i < n && s[i] != '\n') ++i;
    } else if (c == '/' && i + 1 < n && s[i + 1] == '*') {
      const size_t end = s.find("*/", i + 2);
      i = end == absl::string_view::npos ? n : end + 2;
    } else if (c == '\'') {
      i = SkipStringLiteral(s, i);
      out.push_back({Token::kOther, "'", depth});
    } else if (c == '"') {
      std::string ident;
      i = ReadQuotedIdent(s, i, &ident);
      out.push_back({Token::kQuoted, ident, depth});
    } else if (c == '$' && i + 1 < n && (s[i + 1] == '$' || IsIdentStart(s[i + 1]))) {
      // Dollar quote $tag$ ... $tag$ (a $1 placeholder starts with a digit).
      i = ReadDollarQuote(s, i, depth, &out);
    } else if (IsIdentStart(c)) {
      size_t j = i;
      while (j < n && IsIdentChar(s[j])) ++j;
      out.push_back({Token::kWord, absl::AsciiStrToLower(s.substr(i, j - i)), depth});
      i = j;
    } else if (c == '(') {
      out.push_back({Token::kPunct, "(", depth});
      ++depth;
      ++i;
    } else if (c == ')') {
      if (depth > 0) --depth;
      out.push_back({Token::kPunct, ")", depth});
      ++i;
    } else if (c == '.' || c == ',' || c == ';') {
      out.push_back({Token::kPunct, std::string(1, c), depth});
      ++i;
    } else {
      const size_t j = OtherEnd(s, i);
      out.push_back({Token::kOther, std::string(s.substr(i, j - i)), depth});
      i = j;
    }
  }
  return out;
}

// ParseRef reads ident[.ident[.ident]] at *i; false if there is none.
bool ParseRef(const std::vector<Token>& t, size_t* i, TableRef* ref) {
  std::vector<std::string> parts;
  size_t j = *i;
  while (j < t.size() && t[j].IsIdent()) {
    parts.push_back(t[j].text);
    ++j;
    if (j + 1 < t.size() && t[j].IsPunct('.') && t[j + 1].IsIdent()) {
      ++j;
      continue;
    }
    break;
  }
  if (parts.empty()) return false;
  ref->table = parts.back();
  ref->schema = parts.size() >= 2 ? parts[parts.size() - 2] : "";
  *i = j;
  return true;
}

// HasWhereAfter reports whether a WHERE follows at `depth` before the end of
// the (sub)statement.
bool HasWhereAfter(const std::vector<Token>& t, size_t i, int depth) {
  for (; i < t.size(); ++i) {
    if (t[i].depth < depth) return false;
    if (t[i].depth == depth) {
      if (t[i].IsPunct(';') || t[i].IsPunct(')')) return false;
      if (t[i].IsWord("where")) return true;
    }
  }
  return false;
}

bool IsReserved(const Token& tok) {
  static const char* const kWords[] = {"set",      "where",     "restart", "continue", "cascade",
                                       "restrict", "returning", "using",   "only",     "from"};
  if (tok.kind != Token::kWord) return false;
  for (const char* w : kWords) {
    if (tok.text == w) return true;
  }
  return false;
}

}  // namespace

const char* WriteVerbName(WriteVerb verb) {
  switch (verb) {
    case WriteVerb::kDelete:
      return "DELETE";
    case WriteVerb::kUpdate:
      return "UPDATE";
    case WriteVerb::kTruncate:
      return "TRUNCATE";
    case WriteVerb::kDrop:
      return "DROP";
  }
  return "?";
}

std::vector<TableWrite> FindTableWrites(absl::string_view sql) {
  const std::vector<Token> t = Tokenize(sql);
  std::vector<TableWrite> out;
  for (size_t i = 0; i < t.size(); ++i) {
    const Token& tok = t[i];
    if (tok.kind != Token::kWord) continue;
    // A verb must start a statement or a parenthesised sub-statement (WITH).
    const bool at_start = i == 0 || t[i - 1].IsPunct(';') || t[i - 1].IsPunct('(') ||
                          t[i - 1].IsWord("begin") || t[i - 1].IsWord("loop") ||
                          t[i - 1].IsWord("then") || t[i - 1].IsWord("else");
    if (!at_start) continue;
    size_t j = i + 1;
    if (tok.text == "delete" && j < t.size() && t[j].IsWord("from")) {
      ++j;
      if (j < t.size() && t[j].IsWord("only")) ++j;
      TableWrite w{WriteVerb::kDelete, {}, false};
      if (ParseRef(t, &j, &w.table)) {
        w.has_where = HasWhereAfter(t, j, tok.depth);
        out.push_back(std::move(w));
      }
    } else if (tok.text == "update") {
      if (j < t.size() && t[j].IsWord("only")) ++j;
      TableWrite w{WriteVerb::kUpdate, {}, false};
      if (!ParseRef(t, &j, &w.table)) continue;
      if (j < t.size() && t[j].IsWord("as")) ++j;
      if (j < t.size() && t[j].IsIdent() && !t[j].IsWord("set")) ++j;  // alias
      if (j < t.size() && t[j].IsWord("set")) {
        w.has_where = HasWhereAfter(t, j, tok.depth);
        out.push_back(std::move(w));
      }
    } else if (tok.text == "truncate" ||
               (tok.text == "drop" && j < t.size() && t[j].IsWord("table"))) {
      const WriteVerb verb = tok.text == "truncate" ? WriteVerb::kTruncate : WriteVerb::kDrop;
      if (j < t.size() && t[j].IsWord("table")) ++j;
      if (verb == WriteVerb::kDrop && j + 1 < t.size() && t[j].IsWord("if") &&
          t[j + 1].IsWord("exists")) {
        j += 2;
      }
      while (j < t.size()) {
        if (t[j].IsWord("only")) ++j;
        if (j >= t.size() || IsReserved(t[j])) break;
        TableWrite w{verb, {}, false};
        if (!ParseRef(t, &j, &w.table)) break;
        out.push_back(std::move(w));
        if (j < t.size() && t[j].kind == Token::kOther && t[j].text == "*") ++j;
        if (j < t.size() && t[j].IsPunct(',')) {
          ++j;
          continue;
        }
        break;
      }
    }
  }
  return out;
}

namespace {

// AlterAction returns the destructive subcommand of the ALTER TABLE whose
// subcommands start at t[j] ("" when none is), up to the statement's end.
std::string AlterAction(const std::vector<Token>& t, size_t j, int depth) {
  bool at_sub = true;  // at the start of a subcommand
  for (; j < t.size(); ++j) {
    const Token& w = t[j];
    if (w.depth < depth || (w.depth == depth && w.IsPunct(';'))) break;
    if (w.depth != depth) continue;
    if (w.IsPunct(',')) {
      at_sub = true;
      continue;
    }
    if (!at_sub) continue;
    at_sub = false;
    size_t k = j + 1;
    if (w.IsWord("drop")) {
      if (k < t.size() && t[k].IsWord("column")) ++k;
      if (k < t.size() && t[k].IsWord("if") && k + 1 < t.size() && t[k + 1].IsWord("exists")) {
        k += 2;
      }
      // DROP CONSTRAINT / DEFAULT / NOT NULL ... keep the data.
      static const char* const kNotColumn[] = {"constraint", "default", "not", "expression",
                                               "identity",   "trigger", "row", "owned"};
      if (k >= t.size() || !t[k].IsIdent()) continue;
      bool column = true;
      for (const char* nc : kNotColumn) column = column && !(k == j + 1 && t[k].IsWord(nc));
      if (column) return absl::StrCat("DROP COLUMN ", t[k].text);
    } else if (w.IsWord("alter")) {
      if (k < t.size() && t[k].IsWord("column")) ++k;
      if (k + 1 >= t.size() || !t[k].IsIdent()) continue;
      const std::string column = t[k].text;
      ++k;
      if (k + 2 < t.size() && t[k].IsWord("set") && t[k + 1].IsWord("data") &&
          t[k + 2].IsWord("type")) {
        return absl::StrCat("ALTER COLUMN ", column, " SET DATA TYPE");
      }
      if (t[k].IsWord("type")) return absl::StrCat("ALTER COLUMN ", column, " TYPE");
    }
  }
  return "";
}

}  // namespace

std::vector<TableAlter> FindDestructiveAlters(absl::string_view sql) {
  const std::vector<Token> t = Tokenize(sql);
  std::vector<TableAlter> out;
  for (size_t i = 0; i + 1 < t.size(); ++i) {
    if (!t[i].IsWord("alter") || !t[i + 1].IsWord("table")) continue;
    const bool at_start = i == 0 || t[i - 1].IsPunct(';') || t[i - 1].IsPunct('(') ||
                          t[i - 1].IsWord("begin") || t[i - 1].IsWord("then") ||
                          t[i - 1].IsWord("else") || t[i - 1].IsWord("loop");
    if (!at_start) continue;
    size_t j = i + 2;
    if (j + 1 < t.size() && t[j].IsWord("if") && t[j + 1].IsWord("exists")) j += 2;
    if (j < t.size() && t[j].IsWord("only")) ++j;
    TableAlter a;
    if (!ParseRef(t, &j, &a.table)) continue;
    if (j < t.size() && t[j].kind == Token::kOther && t[j].text == "*") ++j;
    a.what = AlterAction(t, j, t[i].depth);
    if (!a.what.empty()) out.push_back(std::move(a));
  }
  return out;
}

std::vector<std::string> FindDroppedObjects(absl::string_view sql, absl::string_view object) {
  const std::vector<Token> t = Tokenize(sql);
  std::vector<std::string> out;
  for (size_t i = 0; i + 1 < t.size(); ++i) {
    if (!t[i].IsWord("drop") || !t[i + 1].IsWord(object)) continue;
    if (i > 0 && !t[i - 1].IsPunct(';') && !t[i - 1].IsWord("begin")) continue;
    size_t j = i + 2;
    if (j + 1 < t.size() && t[j].IsWord("if") && t[j + 1].IsWord("exists")) j += 2;
    while (j < t.size() && t[j].IsIdent()) {
      out.push_back(t[j].text);
      if (j + 1 >= t.size() || !t[j + 1].IsPunct(',')) break;
      j += 2;
    }
  }
  return out;
}

bool RefersTo(const TableRef& ref, const std::string& schema, const std::string& table) {
  if (ref.table != table) return false;
  return ref.schema.empty() || ref.schema == schema;
}

}  // namespace pgwarden
