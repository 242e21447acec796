#ifndef PGWARDEN_AGENT_DISCOVERY_H_
#define PGWARDEN_AGENT_DISCOVERY_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "agent/config.h"
#include "pg/session.h"

namespace pgwarden {

// ForDatabase is one database of server target `server`: its id
// ("name/database"), a DSN that names the database, and a slot of its own
// (replication slots are per server: <slot>_<database>, folded, with a
// hash of the name when folding changed or cut it).
TargetConfig ForDatabase(const TargetConfig& server, const std::string& database);

// SelectDatabases keeps the names `selection` includes and does not
// exclude (globs), in the order given.
std::vector<std::string> SelectDatabases(const std::vector<std::string>& names,
                                         const DatabaseSelection& selection);

// ListDatabases reads the databases of the server `conn` is connected to
// that accept connections and are not templates, then selects them.
absl::StatusOr<std::vector<std::string>> ListDatabases(pg::Session& conn,
                                                       const DatabaseSelection& selection);

// DiscoverDatabases connects to server target `server` (its own DSN) and
// lists its selected databases.
absl::StatusOr<std::vector<std::string>> DiscoverDatabases(const TargetConfig& server,
                                                           const std::string& application_name);

// ExpandTargets is every database `config` watches now: plain targets as
// they are, each server target's databases as discovered (a server that
// cannot be listed is reported in `errors`, naming the target, and skipped).
std::vector<TargetConfig> ExpandTargets(const AgentConfig& config,
                                        const std::string& application_name,
                                        std::vector<std::string>* errors);

// ResolveTarget finds the target with id `id` in `config`: a plain target
// by name, or "name/database" of a server target (whether the database
// still exists is not checked).
absl::StatusOr<TargetConfig> ResolveTarget(const AgentConfig& config, const std::string& id);

}  // namespace pgwarden

#endif  // PGWARDEN_AGENT_DISCOVERY_H_
