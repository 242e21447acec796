#include "core/log_format.h"

#include <cstdio>

#include "absl/time/civil_time.h"
#include "absl/time/time.h"

namespace pgwarden::internal {
namespace {

constexpr char kReplacement[] = "\xEF\xBF\xBD";  // U+FFFD in UTF-8

// Utf8Length is the length of the valid UTF-8 sequence starting at s[i]
// (1 for ASCII), 0 if the bytes there are not one (stray continuation,
// truncated, overlong, surrogate, above U+10FFFF).
size_t Utf8Length(absl::string_view s, size_t i) {
  const auto c = static_cast<unsigned char>(s[i]);
  if (c < 0x80) return 1;
  size_t n = 0;
  uint32_t cp = 0;
  uint32_t min = 0;
  if ((c & 0xE0) == 0xC0) {
    n = 2, cp = c & 0x1F, min = 0x80;
  } else if ((c & 0xF0) == 0xE0) {
    n = 3, cp = c & 0x0F, min = 0x800;
  } else if ((c & 0xF8) == 0xF0) {
    n = 4, cp = c & 0x07, min = 0x10000;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    const auto cc = static_cast<unsigned char>(s[i + k]);
    if ((cc & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (cc & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return n;
}

void AppendControl(unsigned char c, std::string* out) {
  static constexpr char kHex[] = "0123456789abcdef";
  switch (c) {
    case '\n':
      out->append("\\n");
      return;
    case '\r':
      out->append("\\r");
      return;
    case '\t':
      out->append("\\t");
      return;
    default:
      out->append("\\u00");
      out->push_back(kHex[c >> 4]);
      out->push_back(kHex[c & 0xF]);
  }
}

// AppendEscaped writes `s` escaped for a double-quoted JSON or logfmt
// string; an invalid byte becomes `invalid` (an escape or U+FFFD itself).
void AppendEscaped(absl::string_view s, absl::string_view invalid, std::string* out) {
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c == '"' || c == '\\') {
      out->push_back('\\');
      out->push_back(static_cast<char>(c));
      ++i;
    } else if (c < 0x20 || c == 0x7F) {
      AppendControl(c, out);
      ++i;
    } else if (c < 0x80) {
      out->push_back(static_cast<char>(c));
      ++i;
    } else if (const size_t n = Utf8Length(s, i); n == 0) {
      out->append(invalid.data(), invalid.size());
      ++i;
    } else {
      out->append(s.data() + i, n);
      i += n;
    }
  }
}

bool LogfmtNeedsQuotes(absl::string_view s) {
  if (s.empty()) return true;
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c <= ' ' || c == '=' || c == '"' || c == 0x7F) return true;
    if (c < 0x80) {
      ++i;
      continue;
    }
    const size_t n = Utf8Length(s, i);
    if (n == 0) return true;
    i += n;
  }
  return false;
}

const char* TextLevel(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "DEBUG";
    case LogLevel::kInfo:
      return "INFO";
    case LogLevel::kWarning:
      return "WARN";
    case LogLevel::kError:
      return "ERROR";
  }
  return "?";
}

const char* KeyLevel(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarning:
      return "warn";
    case LogLevel::kError:
      return "error";
  }
  return "?";
}

void AppendCaller(const LogRecord& r, std::string* out) {
  char num[16];
  const int n = std::snprintf(num, sizeof(num), ":%d", r.line);
  out->append(r.file.data(), r.file.size());
  out->append(num, static_cast<size_t>(n));
}

void FormatText(const LogRecord& r, std::string* out) {
  AppendLogTime(r.unix_millis, out);
  out->push_back(' ');
  out->append(TextLevel(r.level));
  out->push_back(' ');
  out->append(r.component.data(), r.component.size());
  if (!r.target.empty()) {
    out->push_back('[');
    out->append(r.target.data(), r.target.size());
    out->push_back(']');
  }
  out->push_back(' ');
  AppendCaller(r, out);
  out->append("] ");
  for (const char c : r.message) {
    if (c == '\n') {
      out->append("\\n");
    } else if (c == '\r') {
      out->append("\\r");
    } else {
      out->push_back(c);
    }
  }
}

void FormatLogfmt(const LogRecord& r, std::string* out) {
  out->append("ts=");
  AppendLogTime(r.unix_millis, out);
  out->append(" level=");
  out->append(KeyLevel(r.level));
  out->append(" component=");
  AppendLogfmtValue(r.component, out);
  if (!r.target.empty()) {
    out->append(" target=");
    AppendLogfmtValue(r.target, out);
  }
  out->append(" caller=");
  AppendCaller(r, out);
  out->append(" msg=");
  AppendLogfmtValue(r.message, out);
}

void FormatJson(const LogRecord& r, std::string* out) {
  out->append("{\"ts\":\"");
  AppendLogTime(r.unix_millis, out);
  out->append("\",\"level\":\"");
  out->append(KeyLevel(r.level));
  out->append("\",\"component\":");
  AppendJsonString(r.component, out);
  if (!r.target.empty()) {
    out->append(",\"target\":");
    AppendJsonString(r.target, out);
  }
  out->append(",\"caller\":\"");
  AppendCaller(r, out);
  out->append("\",\"msg\":");
  AppendJsonString(r.message, out);
  out->push_back('}');
}

}  // namespace

void AppendLogTime(int64_t unix_millis, std::string* out) {
  const absl::Time t = absl::FromUnixMillis(unix_millis);
  const absl::CivilSecond s = absl::ToCivilSecond(t, absl::UTCTimeZone());
  const int64_t ms = ((unix_millis % 1000) + 1000) % 1000;
  char buf[40];
  const int n = std::snprintf(buf, sizeof(buf), "%04lld-%02d-%02dT%02d:%02d:%02d.%03dZ",
                              static_cast<long long>(s.year()), s.month(), s.day(), s.hour(),
                              s.minute(), s.second(), static_cast<int>(ms));
  out->append(buf, static_cast<size_t>(n));
}

void AppendJsonString(absl::string_view s, std::string* out) {
  out->push_back('"');
  AppendEscaped(s, "\\ufffd", out);
  out->push_back('"');
}

void AppendLogfmtValue(absl::string_view s, std::string* out) {
  if (!LogfmtNeedsQuotes(s)) {
    out->append(s.data(), s.size());
    return;
  }
  out->push_back('"');
  AppendEscaped(s, kReplacement, out);
  out->push_back('"');
}

void FormatLogLine(LogFormat format, const LogRecord& r, std::string* out) {
  out->reserve(out->size() + r.message.size() + r.component.size() + r.target.size() + 96);
  switch (format) {
    case LogFormat::kLogfmt:
      FormatLogfmt(r, out);
      break;
    case LogFormat::kJson:
      FormatJson(r, out);
      break;
    case LogFormat::kText:
      FormatText(r, out);
      break;
  }
  out->push_back('\n');
}

}  // namespace pgwarden::internal
