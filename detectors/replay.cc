#include "detectors/replay.h"

#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "core/durable_file.h"

namespace pgwarden {
namespace {

// Unquote strips surrounding whitespace and one pair of double quotes.
absl::string_view Unquote(absl::string_view s) {
  s = absl::StripAsciiWhitespace(s);
  if (s.size() >= 2 && s.front() == '"' && s.back() == '"') s = s.substr(1, s.size() - 2);
  return absl::StripAsciiWhitespace(s);
}

bool ParseFinite(absl::string_view s, double* out) {
  return absl::SimpleAtod(s, out) && std::isfinite(*out);
}

absl::StatusOr<std::string> ReadAll(const std::string& path) {
  if (path == "-") {
    return std::string(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::NotFoundError(
        absl::StrCat("replay: cannot open ", path, ": ", std::strerror(errno)));
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return absl::DataLossError(absl::StrCat("replay: cannot read ", path));
  return ss.str();
}

}  // namespace

absl::StatusOr<absl::Time> ParseReplayTimestamp(absl::string_view text) {
  absl::string_view s = Unquote(text);
  if (s.empty()) return absl::InvalidArgumentError("empty timestamp");
  double secs;
  if (ParseFinite(s, &secs)) {
    if (std::fabs(secs) > 1e13) {
      return absl::InvalidArgumentError(absl::StrCat("timestamp out of range: ", s));
    }
    return absl::UnixEpoch() + absl::Seconds(secs);
  }
  std::string iso(s);
  if (iso.size() > 10 && iso[10] == ' ') iso[10] = 'T';
  absl::Time t;
  std::string err;
  for (const char* format : {"%Y-%m-%d%ET%H:%M:%E*S%Ez", "%Y-%m-%d%ET%H:%M:%E*S",
                             "%Y-%m-%d%ET%H:%M%Ez", "%Y-%m-%d%ET%H:%M", "%Y-%m-%d"}) {
    if (absl::ParseTime(format, iso, absl::UTCTimeZone(), &t, &err)) return t;
  }
  return absl::InvalidArgumentError(absl::StrCat("bad timestamp \"", s, "\""));
}

absl::Status Replay(const ReplayOptions& options) {
  auto factory = MakeDetectorFactory(options.detector, options.params);
  if (!factory.ok()) return factory.status();
  std::unique_ptr<Detector> detector = (*factory)->Create();
  const std::string& name = options.input.empty() ? std::string("-") : options.input;
  absl::StatusOr<std::string> data = ReadAll(name);
  if (!data.ok()) return data.status();
  const bool weighted = options.detector == "ratio";

  std::vector<absl::string_view> lines = absl::StrSplit(*data, '\n');
  // A final newline leaves one empty piece.
  if (!lines.empty() && lines.back().empty()) lines.pop_back();
  auto fail = [&](size_t line, const std::string& what) {
    return absl::InvalidArgumentError(absl::StrCat(name, ":", line, ": ", what));
  };
  std::string out;
  out.reserve(data->size() + lines.size() * 16);
  size_t columns = 0;
  bool header_seen = false;
  size_t rows = 0;
  for (size_t i = 0; i < lines.size(); ++i) {
    absl::string_view line = lines[i];
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    const size_t lineno = i + 1;
    if (!header_seen) {
      if (absl::StripAsciiWhitespace(line).empty()) continue;
      std::vector<absl::string_view> head = absl::StrSplit(line, ',');
      if (head.size() < 2) {
        return fail(lineno, "header must name at least two columns (timestamp,value)");
      }
      columns = head.size();
      header_seen = true;
      absl::StrAppend(&out, line, ",anomaly_score,alert\n");
      continue;
    }
    if (absl::StripAsciiWhitespace(line).empty()) continue;  // blank lines are not rows
    std::vector<absl::string_view> fields = absl::StrSplit(line, ',');
    if (fields.size() != columns) {
      return fail(lineno, absl::StrCat("expected ", columns, " columns, got ", fields.size()));
    }
    absl::StatusOr<absl::Time> t = ParseReplayTimestamp(fields[0]);
    if (!t.ok()) return fail(lineno, std::string(t.status().message()));
    double value;
    absl::string_view v = Unquote(fields[1]);
    if (!ParseFinite(v, &value)) {
      return fail(lineno, absl::StrCat("value \"", v, "\" is not a finite number"));
    }
    double weight = 1.0;
    if (weighted) {
      if (columns < 3) return fail(lineno, "detector ratio needs a third column (attempts)");
      absl::string_view w = Unquote(fields[2]);
      if (!ParseFinite(w, &weight) || weight < 0) {
        return fail(lineno, absl::StrCat("weight \"", w, "\" is not a non-negative number"));
      }
    }
    DetectorResult r = detector->Update(*t, value, weight);
    double score = std::isfinite(r.score) ? std::min(1.0, std::max(0.0, r.score)) : 0.0;
    absl::StrAppend(&out, line, ",", absl::StrFormat("%.12g", score), ",", r.alert ? 1 : 0, "\n");
    ++rows;
  }
  if (!header_seen) return fail(1, "empty input: no header");

  if (options.output.empty() || options.output == "-") {
    std::cout.write(out.data(), static_cast<std::streamsize>(out.size()));
    std::cout.flush();
    if (!std::cout) return absl::DataLossError("replay: write to stdout failed");
    return absl::OkStatus();
  }
  // 0666 less the umask, as a shell redirection would create it.
  absl::Status s = WriteFileDurably(options.output, out, 0666);
  if (!s.ok()) {
    return absl::PermissionDeniedError(
        absl::StrCat("replay: cannot write ", options.output, ": ", s.message()));
  }
  return absl::OkStatus();
}

}  // namespace pgwarden
