#include "core/log_redact.h"

#include <algorithm>
#include <atomic>
#include <regex>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/synchronization/mutex.h"
#include "core/log.h"

namespace pgwarden {
namespace {

constexpr char kRedacted[] = "[redacted]";
constexpr size_t kMinSecret = 4;

struct Secrets {
  absl::Mutex mu;
  // Longest first, so a secret holding another is replaced whole.
  std::vector<std::string> values ABSL_GUARDED_BY(mu);
  std::atomic<bool> any{false};
};

Secrets& RegisteredSecrets() {
  static Secrets* s = new Secrets();
  return *s;
}

// MayHoldPassword is the cheap test before the regular expressions:
// "password" in any case, or "://".
bool MayHoldPassword(absl::string_view text) {
  if (absl::StrContains(text, "://")) return true;
  static constexpr absl::string_view kWord = "password";
  for (size_t i = 0; i + kWord.size() <= text.size(); ++i) {
    if (absl::ascii_tolower(static_cast<unsigned char>(text[i])) != 'p') continue;
    if (absl::EqualsIgnoreCase(text.substr(i, kWord.size()), kWord)) return true;
  }
  return false;
}

void ReplaceAll(const std::string& secret, std::string* text) {
  for (size_t pos = text->find(secret); pos != std::string::npos;
       pos = text->find(secret, pos + sizeof(kRedacted) - 1)) {
    text->replace(pos, secret.size(), kRedacted);
  }
}

}  // namespace

void RegisterLogSecret(absl::string_view secret) {
  if (secret.size() < kMinSecret) return;
  Secrets& s = RegisteredSecrets();
  absl::MutexLock lock(&s.mu);
  std::string value(secret);
  if (std::find(s.values.begin(), s.values.end(), value) != s.values.end()) return;
  s.values.push_back(std::move(value));
  std::stable_sort(s.values.begin(), s.values.end(),
                   [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
  s.any = true;
}

void ClearLogSecrets() {
  Secrets& s = RegisteredSecrets();
  absl::MutexLock lock(&s.mu);
  s.values.clear();
  s.any = false;
}

std::string RedactPasswordPatterns(const std::string& text, absl::string_view replacement) {
  static const std::regex kKeyword(R"((password\s*=\s*)('([^'\\]|\\.)*'|\S+))", std::regex::icase);
  static const std::regex kUri(R"((://[^:/@\s]*:)[^@\s]*@)");
  const std::string with(replacement);
  std::string out = std::regex_replace(text, kKeyword, "$1" + with);
  return std::regex_replace(out, kUri, "$1" + with + "@");
}

namespace internal {

void RedactLogMessage(std::string* message) {
  Secrets& s = RegisteredSecrets();
  if (s.any.load(std::memory_order_relaxed)) {
    absl::ReaderMutexLock lock(&s.mu);
    for (const std::string& secret : s.values) {
      if (message->find(secret) != std::string::npos) ReplaceAll(secret, message);
    }
  }
  if (MayHoldPassword(*message)) *message = RedactPasswordPatterns(*message, kRedacted);
}

}  // namespace internal
}  // namespace pgwarden
