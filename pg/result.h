#ifndef PGWARDEN_PG_RESULT_H_
#define PGWARDEN_PG_RESULT_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/types/optional.h"

namespace pgwarden {
namespace pg {

// Row is one result row as text, as PostgreSQL sends it; a NULL field is an
// empty optional. The typed getters return `if_null` for NULL (and for text
// that does not parse as the type asked for).
class Row {
 public:
  Row() = default;
  explicit Row(std::vector<absl::optional<std::string>> fields) : fields_(std::move(fields)) {}

  size_t size() const { return fields_.size(); }
  bool IsNull(size_t col) const { return col >= fields_.size() || !fields_[col].has_value(); }

  // Text returns the field's text.
  std::string Text(size_t col, const std::string& if_null = "") const;
  // Int returns the field as a 64-bit integer.
  int64_t Int(size_t col, int64_t if_null = 0) const;
  // Double returns the field as a double.
  double Double(size_t col, double if_null = 0) const;
  // Bool returns the field as a boolean ("t" / "f").
  bool Bool(size_t col, bool if_null = false) const;

 private:
  std::vector<absl::optional<std::string>> fields_;
};

// Result is the rows a statement returned.
struct Result {
  std::vector<Row> rows;
  // affected_rows is the command's row count (INSERT/UPDATE/DELETE).
  int64_t affected_rows = 0;

  bool empty() const { return rows.empty(); }
  size_t size() const { return rows.size(); }
  const Row& operator[](size_t i) const { return rows[i]; }
  std::vector<Row>::const_iterator begin() const { return rows.begin(); }
  std::vector<Row>::const_iterator end() const { return rows.end(); }
};

}  // namespace pg
}  // namespace pgwarden

#endif  // PGWARDEN_PG_RESULT_H_
