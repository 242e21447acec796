#ifndef PGWARDEN_CORE_LOG_REDACT_H_
#define PGWARDEN_CORE_LOG_REDACT_H_

#include <string>

#include "absl/strings/string_view.h"

namespace pgwarden {

// RedactPasswordPatterns returns `text` with the value of every
// `password=...` (the key/value DSN form: any case, spaces around '=',
// quoted or not) and the password of every URL's `user:password@` replaced
// by `replacement`. It catches passwords nobody registered; DSNs are
// redacted with it too (pg::RedactDsn).
std::string RedactPasswordPatterns(const std::string& text, absl::string_view replacement);

namespace internal {
// RedactLogMessage replaces, in place, every registered secret and every
// pattern-matched password by "[redacted]". Messages that hold neither a
// registered secret nor "password" nor "://" are only scanned.
void RedactLogMessage(std::string* message);
}  // namespace internal

}  // namespace pgwarden

#endif  // PGWARDEN_CORE_LOG_REDACT_H_
