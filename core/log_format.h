#ifndef PGWARDEN_CORE_LOG_FORMAT_H_
#define PGWARDEN_CORE_LOG_FORMAT_H_

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "core/log.h"

namespace pgwarden::internal {

// LogRecord is one event, its views valid while it is formatted.
struct LogRecord {
  int64_t unix_millis = 0;
  LogLevel level = LogLevel::kInfo;
  absl::string_view component;
  absl::string_view target;  // "" = none
  absl::string_view file;    // base name
  int line = 0;
  absl::string_view message;
};

// FormatLogLine appends `r` as one line ending in '\n' to *out. Whatever the
// message holds (newlines, quotes, invalid UTF-8), the line is one line: text
// writes newlines as \n, logfmt quotes and escapes, JSON escapes and writes
// invalid UTF-8 as U+FFFD.
void FormatLogLine(LogFormat format, const LogRecord& r, std::string* out);

// AppendLogTime appends `unix_millis` as RFC 3339 UTC with milliseconds
// (2026-01-31T12:00:00.123Z).
void AppendLogTime(int64_t unix_millis, std::string* out);

// AppendJsonString appends `s` as a JSON string literal (with quotes).
void AppendJsonString(absl::string_view s, std::string* out);

// AppendLogfmtValue appends `s` as a logfmt value: bare when it holds no
// space, '=', '"', control character or invalid UTF-8, else quoted with \",
// \\, \n, \r, \t and \u00XX escapes and invalid bytes as U+FFFD.
void AppendLogfmtValue(absl::string_view s, std::string* out);

}  // namespace pgwarden::internal

#endif  // PGWARDEN_CORE_LOG_FORMAT_H_
