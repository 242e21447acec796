#include "remediation/commit_evidence.h"

#include "catch2/catch.hpp"

namespace pgwarden {
namespace {

nlohmann::json StreamFigures() {
  return nlohmann::json::parse(R"json({
    "rows_lost": 3000,
    "evidence": {
      "source": "change_stream",
      "rows_by_role": {"cleanup_job": 3000, "(unknown)": 12},
      "committed_by": [{"xid": 801, "role": "cleanup_job", "pid": 4242,
                        "application": "nightly-cleanup", "client": "127.0.0.1"}]
}
})json");
}

TEST_CASE("CommitEvidence: the stream's xid matches name the role with its rows and session") {
  std::vector<CommitEvidence> ev = CommitEvidenceFromFigures(StreamFigures());
  REQUIRE(ev.size() == 1);  // "(unknown)" is not a role
  CHECK(ev[0].role == "cleanup_job");
  CHECK(ev[0].rows == 3000);
  CHECK(ev[0].pid == 4242);
  CHECK(ev[0].application == "nightly-cleanup");
}

TEST_CASE("CommitEvidence: merged evidence makes an activity-only suspect a confident culprit") {
  Attribution a;
  a.rows_dropped = 3000;
  Culprit c;
  c.role = "cleanup_job";
  c.confidence = kActivityOnlyConfidence;
  c.evidence = {"pg_locks"};
  a.culprits = {c};
  a.confidence = kActivityOnlyConfidence;
  const std::vector<CommitEvidence> ev = CommitEvidenceFromFigures(StreamFigures());
  MergeCommitEvidence(ev, &a);
  MergeCommitEvidence(ev, &a);  // merging again changes nothing
  REQUIRE(a.culprits.size() == 1);
  CHECK(a.culprits[0].rows_attributed == 3000);
  CHECK(a.rows_attributed == 3000);
  CHECK(a.culprits[0].confidence == 1.0);
  CHECK(a.confidence == 1.0);
  CHECK(a.culprits[0].pids == std::vector<int>{4242});
  CHECK(a.culprits[0].evidence.size() == 2);
}

TEST_CASE("CommitEvidence: a session committing inside one statement is an in-flight culprit") {
  nlohmann::json f = {{"suspect",
                       {{"role", "purger"},
                        {"pid", 77},
                        {"rows_before", 200000},
                        {"rows_now", 150000},
                        {"xid_changes", 5}}}};
  Attribution a;
  a.rows_dropped = 50000;
  MergeCommitEvidence(CommitEvidenceFromFigures(f), &a);
  REQUIRE(a.Top() != nullptr);
  CHECK(a.Top()->role == "purger");
  CHECK(a.Top()->in_flight);
  CHECK(a.Top()->rows_attributed == 50000);
  CHECK(a.confidence == 1.0);
}

TEST_CASE("CommitEvidence: events without commit-time evidence leave the attribution alone") {
  Attribution a;
  a.rows_dropped = 10;
  MergeCommitEvidence(CommitEvidenceFromFigures({{"rows_lost", 10}}), &a);
  CHECK(a.culprits.empty());
  CHECK(a.confidence == 0);
}

}  // namespace
}  // namespace pgwarden
