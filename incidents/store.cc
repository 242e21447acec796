#include "incidents/store.h"

#include <cstdio>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "core/durable_file.h"

namespace pgwarden {

std::string IncidentStore::Encode(int64_t next_id, const std::vector<const Incident*>& open,
                                  const std::vector<const Incident*>& resolved) {
  nlohmann::json items = nlohmann::json::array();
  for (const Incident* inc : open) items.push_back(StateJson(*inc));
  nlohmann::json done = nlohmann::json::array();
  for (const Incident* inc : resolved) done.push_back(StateJson(*inc));
  return nlohmann::json{{"next_id", next_id}, {"open", items}, {"resolved", done}}.dump() + "\n";
}

absl::StatusOr<IncidentState> IncidentStore::Load() const {
  IncidentState state;
  std::ifstream in(path_);
  if (!in) return state;  // first start
  std::stringstream text;
  text << in.rdbuf();
  absl::Status error;
  const nlohmann::json j = nlohmann::json::parse(text.str(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object() || !j.contains("next_id") || !j.contains("open") ||
      !j["next_id"].is_number_integer() || !j["open"].is_array()) {
    error = absl::InvalidArgumentError("not a pgwarden incident state (next_id, open)");
  } else {
    state.next_id = j["next_id"].get<int64_t>();
    for (const nlohmann::json& item : j["open"]) {
      absl::StatusOr<Incident> inc = FromStateJson(item);
      if (!inc.ok()) {
        error = inc.status();
        break;
      }
      state.open.push_back(*std::move(inc));
    }
    // Optional (older files have none); an unreadable one is skipped.
    if (j.contains("resolved") && j["resolved"].is_array()) {
      for (const nlohmann::json& item : j["resolved"]) {
        absl::StatusOr<Incident> inc = FromStateJson(item);
        if (inc.ok()) state.resolved.push_back(*std::move(inc));
      }
    }
  }
  if (error.ok()) return state;
  const std::string aside = path_ + ".bad";
  std::rename(path_.c_str(), aside.c_str());
  return absl::DataLossError(absl::StrCat("incident state ", path_, " unreadable (moved to ", aside,
                                          "): ", error.message()));
}

absl::Status IncidentStore::Write(const std::string& contents) const {
  return WriteFileDurably(path_, contents, 0600);
}

}  // namespace pgwarden
