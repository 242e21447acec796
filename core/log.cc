#include "core/log.h"

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>

#include "absl/time/clock.h"
#include "core/log_format.h"
#include "core/log_redact.h"

namespace pgwarden {
namespace {
std::atomic<int> g_min_level{static_cast<int>(LogLevel::kInfo)};
std::atomic<int> g_format{static_cast<int>(LogFormat::kText)};
thread_local const std::string* t_target = nullptr;

// A buffer that grew past this for one huge message is given back.
constexpr size_t kKeepCapacity = 64 << 10;

void WriteAll(const std::string& text) {
  // One write(2) per line keeps lines from different threads whole; the
  // loop only continues a write cut short by a signal or a full pipe.
  const char* p = text.data();
  size_t left = text.size();
  while (left > 0) {
    const ssize_t n = ::write(STDERR_FILENO, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    p += n;
    left -= static_cast<size_t>(n);
  }
}
}  // namespace

void SetLogLevel(LogLevel level) { g_min_level = static_cast<int>(level); }

bool ParseLogLevel(const std::string& text, LogLevel* level) {
  if (text == "debug") {
    *level = LogLevel::kDebug;
  } else if (text == "info") {
    *level = LogLevel::kInfo;
  } else if (text == "warning" || text == "warn") {
    *level = LogLevel::kWarning;
  } else if (text == "error") {
    *level = LogLevel::kError;
  } else {
    return false;
  }
  return true;
}

bool LogEnabled(LogLevel level) { return static_cast<int>(level) >= g_min_level.load(); }

void SetLogFormat(LogFormat format) { g_format = static_cast<int>(format); }

bool ParseLogFormat(const std::string& text, LogFormat* format) {
  if (text == "text") {
    *format = LogFormat::kText;
  } else if (text == "logfmt") {
    *format = LogFormat::kLogfmt;
  } else if (text == "json") {
    *format = LogFormat::kJson;
  } else {
    return false;
  }
  return true;
}

ScopedLogTarget::ScopedLogTarget(std::string target)
    : target_(std::move(target)), previous_(t_target) {
  t_target = &target_;
}

ScopedLogTarget::~ScopedLogTarget() { t_target = previous_; }

absl::string_view CurrentLogTarget() {
  return t_target ? absl::string_view(*t_target) : absl::string_view();
}

namespace internal {

absl::string_view LogComponent(absl::string_view file) {
  const size_t slash = file.rfind('/');
  if (slash == absl::string_view::npos || slash == 0) return "pgwarden";
  const size_t start = file.rfind('/', slash - 1);
  const size_t from = start == absl::string_view::npos ? 0 : start + 1;
  if (from == slash) return "pgwarden";
  return file.substr(from, slash - from);
}

StringAppendBuf::int_type StringAppendBuf::overflow(int_type c) {
  if (!traits_type::eq_int_type(c, traits_type::eof()))
    out_->push_back(traits_type::to_char_type(c));
  return traits_type::not_eof(c);
}

std::streamsize StringAppendBuf::xsputn(const char* s, std::streamsize n) {
  out_->append(s, static_cast<size_t>(n));
  return n;
}

// LogBuffers are one thread's message and line, reused from line to line;
// `busy` while a message is being built (a message streamed while building
// another gets buffers of its own).
struct LogBuffers {
  std::string message;
  std::string line;
  bool busy = false;
};

namespace {
thread_local LogBuffers t_buffers;

LogBuffers* AcquireBuffers() {
  if (t_buffers.busy) return new LogBuffers();
  t_buffers.busy = true;
  t_buffers.message.clear();
  return &t_buffers;
}
}  // namespace

LogMessage::LogMessage(LogLevel level, const char* file, int line, const char* component)
    : level_(level),
      file_(file),
      line_(line),
      component_(component),
      buffers_(AcquireBuffers()),
      buf_(&buffers_->message),
      stream_(&buf_) {}

LogMessage::~LogMessage() {
  LogBuffers& b = *buffers_;
  RedactLogMessage(&b.message);
  LogRecord r;
  r.unix_millis = absl::ToUnixMillis(absl::Now());
  r.level = level_;
  r.component = component_ ? absl::string_view(component_) : LogComponent(file_);
  r.target = CurrentLogTarget();
  const char* base = std::strrchr(file_, '/');
  r.file = base ? base + 1 : file_;
  r.line = line_;
  r.message = b.message;
  b.line.clear();
  FormatLogLine(static_cast<LogFormat>(g_format.load()), r, &b.line);
  WriteAll(b.line);
  if (buffers_ != &t_buffers) {
    delete buffers_;
    return;
  }
  if (b.message.capacity() > kKeepCapacity) std::string().swap(b.message);
  if (b.line.capacity() > kKeepCapacity) std::string().swap(b.line);
  b.busy = false;
}

}  // namespace internal
}  // namespace pgwarden
