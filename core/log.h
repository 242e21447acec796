#ifndef PGWARDEN_CORE_LOG_H_
#define PGWARDEN_CORE_LOG_H_

#include <sstream>
#include <string>

namespace pgwarden {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };

// SetLogLevel sets the minimum level written to stderr (default kInfo).
void SetLogLevel(LogLevel level);
// ParseLogLevel maps "debug|info|warning|error" to a level; false if unknown.
bool ParseLogLevel(const std::string& text, LogLevel* level);
// LogEnabled reports whether a message at `level` would be written.
bool LogEnabled(LogLevel level);

namespace internal {
// LogMessage collects one line and writes it, with a UTC timestamp and level,
// to stderr in one write when destroyed.
class LogMessage {
 public:
  LogMessage(LogLevel level, const char* file, int line);
  ~LogMessage();
  LogMessage(const LogMessage&) = delete;
  LogMessage& operator=(const LogMessage&) = delete;
  std::ostream& stream() { return stream_; }

 private:
  LogLevel level_;
  std::ostringstream stream_;
};
}  // namespace internal

}  // namespace pgwarden

namespace pgwarden::internal {
// Voidify turns the streamed expression into void so PGW_LOG can be a
// conditional expression (safe inside an unbraced if/else).
struct Voidify {
  void operator&(std::ostream&) {}
};
}  // namespace pgwarden::internal

// `level` is pasted into an enumerator name (kInfo), which cannot be
// parenthesized; the expression is a stream, so it must not be either.
// NOLINTBEGIN(bugprone-macro-parentheses)
#define PGW_LOG(level)                                                                           \
  !::pgwarden::LogEnabled(::pgwarden::LogLevel::k##level)                                        \
      ? (void)0                                                                                  \
      : ::pgwarden::internal::Voidify() &                                                        \
            ::pgwarden::internal::LogMessage(::pgwarden::LogLevel::k##level, __FILE__, __LINE__) \
                .stream()
// NOLINTEND(bugprone-macro-parentheses)

#endif  // PGWARDEN_CORE_LOG_H_
