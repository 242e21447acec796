#include "cmd/incident_file.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"

namespace pgwarden {

std::string IncidentStatePath(const AgentConfig& cfg) {
  return (std::filesystem::path(cfg.state_dir) / "incidents.json").string();
}

absl::StatusOr<Incident> FindIncident(const std::string& path, int64_t id) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("no incident state at ", path));
  std::stringstream text;
  text << in.rdbuf();
  const nlohmann::json j = nlohmann::json::parse(text.str(), nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return absl::DataLossError(absl::StrCat(path, " is not a pgwarden incident state"));
  }
  for (const char* list : {"open", "resolved"}) {
    if (!j.contains(list) || !j[list].is_array()) continue;
    for (const nlohmann::json& item : j[list]) {
      if (!item.is_object() || item.value("id", int64_t{0}) != id) continue;
      absl::StatusOr<Incident> inc = FromStateJson(item);
      if (!inc.ok()) return inc.status();
      return inc;
    }
  }
  return absl::NotFoundError(
      absl::StrCat("incident ", id, " is not in ", path, " (neither open nor recently resolved)"));
}

}  // namespace pgwarden
