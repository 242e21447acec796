#ifndef PGWARDEN_CORE_TARGET_ID_H_
#define PGWARDEN_CORE_TARGET_ID_H_

#include <map>
#include <string>

#include "absl/strings/string_view.h"

namespace pgwarden {

// A target's id names it everywhere but in metric labels: incidents, dedup
// keys, the audit log, /status, the state files. It is the config entry's
// name for a target that watches one database, and "name/database" for one
// database of a target that watches a server (names never hold '/').
std::string TargetId(absl::string_view name, absl::string_view database);

// TargetLabels are the metric labels of a target id: {target} for a plain
// target, {target, database} for a database of a server target.
std::map<std::string, std::string> TargetLabels(absl::string_view id);

// TargetLabels adds one more label (e.g. {"reason", "connect"}).
std::map<std::string, std::string> TargetLabels(absl::string_view id, const std::string& key,
                                                const std::string& value);

// TargetFileName is `id` as one file-name component: letters, digits, '_',
// '-' and '.' kept, anything else (the '/' of a server target's database,
// or whatever a database name holds) as %XX.
std::string TargetFileName(absl::string_view id);

}  // namespace pgwarden

#endif  // PGWARDEN_CORE_TARGET_ID_H_
