#include "pg/result.h"

#include "absl/strings/numbers.h"

namespace pgwarden {
namespace pg {

std::string Row::Text(size_t col, const std::string& if_null) const {
  return IsNull(col) ? if_null : *fields_[col];
}

int64_t Row::Int(size_t col, int64_t if_null) const {
  int64_t v = 0;
  if (IsNull(col) || !absl::SimpleAtoi(*fields_[col], &v)) return if_null;
  return v;
}

double Row::Double(size_t col, double if_null) const {
  double v = 0;
  if (IsNull(col) || !absl::SimpleAtod(*fields_[col], &v)) return if_null;
  return v;
}

bool Row::Bool(size_t col, bool if_null) const {
  if (IsNull(col)) return if_null;
  const std::string& v = *fields_[col];
  if (v == "t" || v == "true") return true;
  if (v == "f" || v == "false") return false;
  return if_null;
}

}  // namespace pg
}  // namespace pgwarden
