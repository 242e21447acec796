#include "pg/session.h"

#include "absl/strings/str_cat.h"

namespace pgwarden {
namespace pg {

std::string Session::QualifiedName(absl::string_view schema, absl::string_view table) const {
  return absl::StrCat(QuoteName(schema), ".", QuoteName(table));
}

std::string SqlState(const absl::Status& status) {
  absl::optional<absl::Cord> state = status.GetPayload(kSqlStatePayload);
  return state.has_value() ? std::string(*state) : "";
}

}  // namespace pg
}  // namespace pgwarden
