#include "sources/decoded_row.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "sources/test_decoding.h"

namespace pgwarden {
namespace {

absl::Status Bad(size_t pos, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("column at offset ", pos, ": ", why));
}

// ReadQuoted reads '...' (quotes doubled inside) at `*pos`.
bool ReadQuoted(absl::string_view text, size_t* pos, std::string* out) {
  size_t i = *pos + 1;
  while (i < text.size()) {
    if (text[i] == '\'') {
      if (i + 1 < text.size() && text[i + 1] == '\'') {
        out->push_back('\'');
        i += 2;
        continue;
      }
      *pos = i + 1;
      return true;
    }
    out->push_back(text[i++]);
  }
  return false;
}

// ReadName reads a column name: quoted as quote_identifier writes it, or
// bare up to its "[type]".
bool ReadName(absl::string_view text, size_t* pos, std::string* out) {
  if (*pos < text.size() && text[*pos] == '"') return ParseQuotedIdentifier(text, pos, out);
  const size_t end = text.find('[', *pos);
  if (end == absl::string_view::npos || end == *pos) return false;
  *out = std::string(text.substr(*pos, end - *pos));
  if (out->find(' ') != std::string::npos) return false;
  *pos = end;
  return true;
}

}  // namespace

absl::StatusOr<std::vector<DecodedColumn>> ParseDecodedColumns(absl::string_view text) {
  std::vector<DecodedColumn> out;
  size_t pos = 0;
  while (pos < text.size() && text[pos] == ' ') ++pos;
  if (absl::StartsWith(text.substr(pos), "(no-tuple-data)")) return out;
  while (pos < text.size()) {
    DecodedColumn c;
    const size_t start = pos;
    if (!ReadName(text, &pos, &c.name)) return Bad(start, "bad column name");
    if (pos >= text.size() || text[pos] != '[') return Bad(pos, "expected [type]");
    const size_t end = text.find("]:", pos);
    if (end == absl::string_view::npos) return Bad(pos, "expected ]: after the type");
    c.type = std::string(text.substr(pos + 1, end - pos - 1));
    pos = end + 2;
    if (pos < text.size() && text[pos] == '\'') {
      std::string v;
      if (!ReadQuoted(text, &pos, &v)) return Bad(pos, "unterminated quoted value");
      c.value = std::move(v);
    } else if (absl::StartsWith(text.substr(pos), "B'")) {
      ++pos;
      std::string v;
      if (!ReadQuoted(text, &pos, &v)) return Bad(pos, "unterminated bit string");
      c.value = std::move(v);
    } else {
      size_t stop = text.find(' ', pos);
      if (stop == absl::string_view::npos) stop = text.size();
      const absl::string_view token = text.substr(pos, stop - pos);
      if (token.empty()) return Bad(pos, "empty value");
      if (token == "unchanged-toast-datum") {
        c.unchanged_toast = true;
      } else if (token != "null") {
        c.value = std::string(token);
      }
      pos = stop;
    }
    out.push_back(std::move(c));
    if (pos < text.size()) {
      if (text[pos] != ' ') return Bad(pos, "expected a space between columns");
      ++pos;
    }
  }
  return out;
}

}  // namespace pgwarden
