#include "core/target_id.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace pgwarden {

std::string TargetId(absl::string_view name, absl::string_view database) {
  if (database.empty()) return std::string(name);
  return absl::StrCat(name, "/", database);
}

std::map<std::string, std::string> TargetLabels(absl::string_view id) {
  const size_t slash = id.find('/');
  if (slash == absl::string_view::npos) return {{"target", std::string(id)}};
  return {{"target", std::string(id.substr(0, slash))},
          {"database", std::string(id.substr(slash + 1))}};
}

std::map<std::string, std::string> TargetLabels(absl::string_view id, const std::string& key,
                                                const std::string& value) {
  std::map<std::string, std::string> labels = TargetLabels(id);
  labels[key] = value;
  return labels;
}

std::string TargetFileName(absl::string_view id) {
  std::string out;
  out.reserve(id.size());
  for (const char c : id) {
    if (absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' ||
        (c == '.' && !out.empty())) {
      out.push_back(c);
    } else {
      absl::StrAppendFormat(&out, "%%%02X", static_cast<unsigned char>(c));
    }
  }
  return out;
}

}  // namespace pgwarden
