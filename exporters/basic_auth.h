#ifndef PGWARDEN_EXPORTERS_BASIC_AUTH_H_
#define PGWARDEN_EXPORTERS_BASIC_AUTH_H_

#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"

namespace pgwarden {

// BcryptMatches checks `password` against bcrypt `hash` with libxcrypt
// (constant-time comparison of the result).
bool BcryptMatches(const std::string& password, const std::string& hash);

// BcryptHash makes a bcrypt ($2b$) hash of `password` at `cost` (4..31), for
// the dummy comparison and for tests; "" on failure.
std::string BcryptHash(const std::string& password, int cost);

// BasicAuth checks basic-auth credentials against the users of a web config
// (user name to bcrypt hash). bcrypt is slow by design, so a verification
// that succeeded is remembered (keyed by a SHA-256 of user, password and
// stored hash: a changed hash or password misses) and a scrape every second
// pays it once. An unknown user is compared against a dummy hash of the same
// cost, so the time taken does not tell which users exist. Thread-safe.
class BasicAuth {
 public:
  BasicAuth() = default;
  BasicAuth(const BasicAuth&) = delete;
  BasicAuth& operator=(const BasicAuth&) = delete;

  // SetUsers replaces the users (on a re-read web config); remembered
  // verifications of hashes that remain stay valid.
  void SetUsers(absl::flat_hash_map<std::string, std::string> users);
  // enabled: at least one user is configured.
  bool enabled() const;
  // Check: `user` exists and `password` matches its hash.
  bool Check(const std::string& user, const std::string& password);

 private:
  // kMaxRemembered bounds the remembered verifications (cleared when full).
  static constexpr size_t kMaxRemembered = 1024;

  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::string> users_ ABSL_GUARDED_BY(mu_);
  std::string dummy_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_set<std::string> remembered_ ABSL_GUARDED_BY(mu_);
};

}  // namespace pgwarden

#endif  // PGWARDEN_EXPORTERS_BASIC_AUTH_H_
