#ifndef PGWARDEN_REMEDIATION_COMMIT_EVIDENCE_H_
#define PGWARDEN_REMEDIATION_COMMIT_EVIDENCE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "nlohmann/json.hpp"
#include "remediation/attribution.h"

namespace pgwarden {

// CommitEvidence is rows a commit-time source saw a role remove: change
// stream transactions whose xid a session of the role was seen holding,
// statement counters per role, or a session committing inside one
// statement whose table was probed.
struct CommitEvidence {
  std::string role;
  int64_t rows = 0;
  int pid = 0;  // 0 when unknown
  std::string application;
  std::string client;
  // in_flight: the session is still running (a CALL committing per chunk).
  bool in_flight = false;
  std::string evidence;  // one line naming the source
};

// CommitEvidenceFromFigures reads the evidence a ChangeWatch or the
// commit-in-statement watch put into an event's figures (`evidence` with
// `rows_by_role` and `committed_by`, or `suspect`).
std::vector<CommitEvidence> CommitEvidenceFromFigures(const nlohmann::json& figures);

// MergeCommitEvidence adds commit-time evidence to an attribution: a role's
// rows become the larger of its statement and commit-time counts, sessions
// named by the evidence join the culprit, and the confidences are
// recomputed against attribution->rows_dropped.
void MergeCommitEvidence(const std::vector<CommitEvidence>& evidence, Attribution* attribution);

}  // namespace pgwarden

#endif  // PGWARDEN_REMEDIATION_COMMIT_EVIDENCE_H_
