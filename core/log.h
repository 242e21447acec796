#ifndef PGWARDEN_CORE_LOG_H_
#define PGWARDEN_CORE_LOG_H_

#include <ostream>
#include <sstream>  // many callers build text with ostringstream
#include <streambuf>
#include <string>

#include "absl/strings/string_view.h"

namespace pgwarden {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };

// LogFormat is the shape of a line: text (timestamp, level, component,
// [target], file:line, message), logfmt (ts= level= component= target=
// caller= msg=) or JSON (one object per line, the same keys).
enum class LogFormat { kText = 0, kLogfmt = 1, kJson = 2 };

// SetLogLevel sets the minimum level written to stderr (default kInfo).
void SetLogLevel(LogLevel level);
// ParseLogLevel maps "debug|info|warning|error" to a level; false if unknown.
bool ParseLogLevel(const std::string& text, LogLevel* level);
// LogEnabled reports whether a message at `level` would be written.
bool LogEnabled(LogLevel level);

// SetLogFormat sets the shape of every line written from now on (default
// kText).
void SetLogFormat(LogFormat format);
// ParseLogFormat maps "text|logfmt|json" to a format; false if unknown.
bool ParseLogFormat(const std::string& text, LogFormat* format);

// ScopedLogTarget names the target every line logged by this thread is
// about, until the scope ends (the previous target, if any, comes back).
// Set it once at the top of a thread that works for one target.
class ScopedLogTarget {
 public:
  explicit ScopedLogTarget(std::string target);
  ~ScopedLogTarget();
  ScopedLogTarget(const ScopedLogTarget&) = delete;
  ScopedLogTarget& operator=(const ScopedLogTarget&) = delete;

 private:
  std::string target_;
  const std::string* previous_;
};

// CurrentLogTarget is this thread's target ("" outside any ScopedLogTarget).
absl::string_view CurrentLogTarget();

// RegisterLogSecret makes the logger write "[redacted]" wherever `secret`
// appears in a message (config load registers passwords, routing keys,
// tokens). Values shorter than 4 characters are ignored: they would erase
// ordinary words, and the pattern rule below still covers them where they
// follow `password=` or sit in a URL's user:password@.
void RegisterLogSecret(absl::string_view secret);
// ClearLogSecrets forgets every registered secret (for tests).
void ClearLogSecrets();

namespace internal {

// LogComponent is the directory holding `file` ("agent" for
// ".../agent/target_loop.cc"), or "pgwarden" when the path has none. The
// view points into `file`.
absl::string_view LogComponent(absl::string_view file);

// StringAppendBuf is a streambuf appending to a std::string it does not own.
class StringAppendBuf : public std::streambuf {
 public:
  explicit StringAppendBuf(std::string* out) : out_(out) {}

 protected:
  int_type overflow(int_type c) override;
  std::streamsize xsputn(const char* s, std::streamsize n) override;

 private:
  std::string* out_;
};

struct LogBuffers;

// LogMessage collects one message and writes it as one line (in the set
// format, secrets redacted) to stderr in one write(2) when destroyed. The
// message and line buffers are the thread's own and are reused.
class LogMessage {
 public:
  LogMessage(LogLevel level, const char* file, int line, const char* component = nullptr);
  ~LogMessage();
  LogMessage(const LogMessage&) = delete;
  LogMessage& operator=(const LogMessage&) = delete;
  std::ostream& stream() { return stream_; }

 private:
  LogLevel level_;
  const char* file_;
  int line_;
  const char* component_;
  LogBuffers* buffers_;
  StringAppendBuf buf_;
  std::ostream stream_;
};

// Voidify turns the streamed expression into void so PGW_LOG can be a
// conditional expression (safe inside an unbraced if/else).
struct Voidify {
  void operator&(std::ostream&) {}
};

}  // namespace internal
}  // namespace pgwarden

// `level` is pasted into an enumerator name (kInfo), which cannot be
// parenthesized; the expression is a stream, so it must not be either.
// NOLINTBEGIN(bugprone-macro-parentheses)
#define PGW_LOG(level)                                                                           \
  !::pgwarden::LogEnabled(::pgwarden::LogLevel::k##level)                                        \
      ? (void)0                                                                                  \
      : ::pgwarden::internal::Voidify() &                                                        \
            ::pgwarden::internal::LogMessage(::pgwarden::LogLevel::k##level, __FILE__, __LINE__) \
                .stream()

// PGW_LOG_AS is PGW_LOG with the component named instead of taken from the
// source file's directory (a string literal, e.g. "http").
#define PGW_LOG_AS(level, component)                                                             \
  !::pgwarden::LogEnabled(::pgwarden::LogLevel::k##level)                                        \
      ? (void)0                                                                                  \
      : ::pgwarden::internal::Voidify() &                                                        \
            ::pgwarden::internal::LogMessage(::pgwarden::LogLevel::k##level, __FILE__, __LINE__, \
                                             component)                                          \
                .stream()
// NOLINTEND(bugprone-macro-parentheses)

#endif  // PGWARDEN_CORE_LOG_H_
