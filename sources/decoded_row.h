#ifndef PGWARDEN_SOURCES_DECODED_ROW_H_
#define PGWARDEN_SOURCES_DECODED_ROW_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/optional.h"

namespace pgwarden {

// DecodedColumn is one column of a row as test_decoding prints it:
// `name[type]:value`.
struct DecodedColumn {
  std::string name;  // unquoted
  std::string type;  // format_type's name, e.g. "timestamp with time zone"
  // value is the column's text (unquoted), nullopt for SQL NULL.
  absl::optional<std::string> value;
  // unchanged_toast: the value was stored out of line and not decoded
  // ("unchanged-toast-datum"); the row cannot be rebuilt from the stream.
  bool unchanged_toast = false;
};

// ParseDecodedColumns parses the columns of a test_decoding row, i.e. what
// follows "INSERT:", "DELETE:" or "old-key:" (" id[bigint]:5
// name[text]:'it''s'"). "(no-tuple-data)" gives no columns. A malformed
// column is an InvalidArgument naming its position.
absl::StatusOr<std::vector<DecodedColumn>> ParseDecodedColumns(absl::string_view text);

}  // namespace pgwarden

#endif  // PGWARDEN_SOURCES_DECODED_ROW_H_
