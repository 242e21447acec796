#ifndef PGWARDEN_CMD_INCIDENT_FILE_H_
#define PGWARDEN_CMD_INCIDENT_FILE_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "agent/config.h"
#include "incidents/incident.h"

namespace pgwarden {

// IncidentStatePath is state_dir/incidents.json.
std::string IncidentStatePath(const AgentConfig& cfg);

// FindIncident looks incident `id` up among the open and the recently
// resolved incidents of the agent's state file (read only: a bad file is
// reported, never moved aside).
absl::StatusOr<Incident> FindIncident(const std::string& path, int64_t id);

}  // namespace pgwarden

#endif  // PGWARDEN_CMD_INCIDENT_FILE_H_
