#ifndef PGWARDEN_INCIDENTS_STORE_H_
#define PGWARDEN_INCIDENTS_STORE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "incidents/incident.h"

namespace pgwarden {

// IncidentState is what the state file holds: the open incidents and the
// next incident id.
struct IncidentState {
  int64_t next_id = 1;
  std::vector<Incident> open;
  std::vector<Incident> resolved;  // oldest first
};

// IncidentStore keeps the open incidents in one file (written durably:
// temp file, fsync, rename, directory fsync) so that an incident paged
// before a crash or a SIGKILL still resolves afterwards.
class IncidentStore {
 public:
  explicit IncidentStore(std::string path) : path_(std::move(path)) {}

  // Encode renders a state as the file's contents.
  // `resolved` are the latest resolved incidents (kept for `pgwarden
  // recovery` and aftermath reopening across restarts).
  static std::string Encode(int64_t next_id, const std::vector<const Incident*>& open,
                            const std::vector<const Incident*>& resolved = {});

  // Load reads the file (absent: an empty state). A file that cannot be
  // read is moved aside to path + ".bad" and named in the DataLoss error.
  absl::StatusOr<IncidentState> Load() const;

  // Write replaces the file with `contents` (from Encode).
  absl::Status Write(const std::string& contents) const;

  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace pgwarden

#endif  // PGWARDEN_INCIDENTS_STORE_H_
