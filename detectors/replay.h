#ifndef PGWARDEN_DETECTORS_REPLAY_H_
#define PGWARDEN_DETECTORS_REPLAY_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "detectors/detector.h"

namespace pgwarden {

// ReplayOptions say which detector to run over which recorded series.
struct ReplayOptions {
  std::string detector = kDefaultDetector;
  DetectorParams params;
  // input is a CSV file ("-" = stdin); output is a CSV file ("" or "-" = stdout).
  std::string input;
  std::string output;
};

// Replay runs one detector over a recorded series.
//
// Input: CSV with a header; first column a timestamp (ISO 8601 such as
// "2014-04-01 00:00:00" or "2014-04-01T00:00:00Z", or unix seconds), second a
// number, optional third the weight (attempts, for `ratio`); CRLF accepted.
// Output: the input columns unchanged plus `anomaly_score` and `alert`, one
// row per input row. A malformed row is InvalidArgument naming the file, the
// line and the problem, and no output is written at all.
absl::Status Replay(const ReplayOptions& options);

// ParseReplayTimestamp parses an ISO 8601 timestamp (UTC unless it carries an
// offset) or unix seconds.
absl::StatusOr<absl::Time> ParseReplayTimestamp(absl::string_view text);

}  // namespace pgwarden

#endif  // PGWARDEN_DETECTORS_REPLAY_H_
