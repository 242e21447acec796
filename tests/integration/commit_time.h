#ifndef PGWARDEN_TESTS_INTEGRATION_COMMIT_TIME_H_
#define PGWARDEN_TESTS_INTEGRATION_COMMIT_TIME_H_

#include <string>

#include "absl/strings/str_cat.h"
#include "tests/integration/scenario.h"

namespace pgwarden::testing {

// Path is how a target sees committed changes.
enum class Path { kStream, kStatements, kStatsOnly };

inline const char* PathName(Path p) {
  return p == Path::kStream ? "change_stream" : p == Path::kStatements ? "statements" : "stats";
}

// TargetLines are the target keys that select `path`.
inline std::string TargetLines(Path path, const std::string& extra_stream = "") {
  switch (path) {
    case Path::kStream:
      return absl::StrCat("    change_stream:\n      enabled: true\n", extra_stream);
    case Path::kStatements:
      return "";
    case Path::kStatsOnly:
      return "    fast_path: false\n";
  }
  return "";
}

// WithTargetLines inserts `lines` into the (single) target of a Scenario
// config.
inline std::string WithTargetLines(std::string yaml, const std::string& lines) {
  yaml.insert(yaml.find("alerting:"), lines);
  return yaml;
}

// GrantReplication lets the agent's role open the change stream.
inline void GrantReplication(const Scenario& sc) {
  auto r = sc.pg->Psql("ALTER ROLE pgwarden REPLICATION");
  INFO(r.status().message());
  REQUIRE(r.ok());
}

// WaitStreaming waits until the agent's change stream is up and it has run
// long enough on the fast tick for the delete-rate baseline to warm up.
inline void WaitStreaming(const Scenario& sc) {
  const bool up = WaitUntil(
      [&] {
        return MetricValue(sc.agent->Metrics(), "pgwarden_change_stream_up", {"target=\"shop\""}) ==
               1.0;
      },
      absl::Seconds(30));
  INFO(sc.agent->Log());
  REQUIRE(up);
}

// HasKindPage is true when the pager received a trigger whose details hold
// `kind` (row_loss, delete_spike, ...) for a summary naming `what`.
inline bool HasKindPage(const PdReceiver& pager, const std::string& kind, const std::string& what) {
  for (const ReceivedEvent& e : pager.events()) {
    if (e.body.value("event_action", "") != "trigger") continue;
    const nlohmann::json& p = e.body["payload"];
    if (p.value("summary", "").find(what) == std::string::npos) continue;
    if (p.contains("custom_details") && p["custom_details"].contains(kind)) return true;
  }
  return false;
}

}  // namespace pgwarden::testing

#endif  // PGWARDEN_TESTS_INTEGRATION_COMMIT_TIME_H_
