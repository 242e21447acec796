#include "exporters/basic_auth.h"

#include <crypt.h>
#include <gnutls/crypto.h>

#include <memory>

#include "absl/strings/numbers.h"

namespace pgwarden {
namespace {

std::string Sha256(const std::string& user, const std::string& password, const std::string& hash) {
  std::string input = user;
  input.push_back('\0');
  input += password;
  input.push_back('\0');
  input += hash;
  std::string digest(32, '\0');
  if (gnutls_hash_fast(GNUTLS_DIG_SHA256, input.data(), input.size(), digest.data()) != 0) {
    return "";
  }
  return digest;
}

// ConstantTimeEquals compares without stopping at the first difference.
bool ConstantTimeEquals(absl::string_view a, absl::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  }
  return diff == 0;
}

int CostOf(absl::string_view hash) {
  int cost = 10;
  if (hash.size() > 6 && absl::SimpleAtoi(hash.substr(4, 2), &cost)) return cost;
  return 10;
}

}  // namespace

bool BcryptMatches(const std::string& password, const std::string& hash) {
  auto data = std::make_unique<crypt_data>();
  const char* out = crypt_rn(password.c_str(), hash.c_str(), data.get(), sizeof(crypt_data));
  return out != nullptr && out[0] != '*' && ConstantTimeEquals(out, hash);
}

std::string BcryptHash(const std::string& password, int cost) {
  char salt[CRYPT_GENSALT_OUTPUT_SIZE];
  if (crypt_gensalt_rn("$2b$", cost, nullptr, 0, salt, sizeof(salt)) == nullptr) return "";
  auto data = std::make_unique<crypt_data>();
  const char* out = crypt_rn(password.c_str(), salt, data.get(), sizeof(crypt_data));
  return out != nullptr && out[0] != '*' ? std::string(out) : "";
}

void BasicAuth::SetUsers(absl::flat_hash_map<std::string, std::string> users) {
  const int cost = users.empty() ? 0 : CostOf(users.begin()->second);
  std::string dummy;
  {
    absl::MutexLock lock(&mu_);
    if (cost > 0 && CostOf(dummy_) == cost && !dummy_.empty()) dummy = dummy_;
  }
  // Made outside the lock: it takes as long as a verification.
  if (cost > 0 && dummy.empty()) dummy = BcryptHash("pgwarden-no-such-user", cost);
  absl::MutexLock lock(&mu_);
  users_ = std::move(users);
  dummy_ = std::move(dummy);
}

bool BasicAuth::enabled() const {
  absl::MutexLock lock(&mu_);
  return !users_.empty();
}

bool BasicAuth::Check(const std::string& user, const std::string& password) {
  std::string hash;
  bool known = false;
  std::string key;
  {
    absl::MutexLock lock(&mu_);
    auto it = users_.find(user);
    known = it != users_.end();
    hash = known ? it->second : dummy_;
    if (known) {
      key = Sha256(user, password, hash);
      if (!key.empty() && remembered_.contains(key)) return true;
    }
  }
  // bcrypt runs outside the lock: one slow check never holds up another.
  const bool ok = BcryptMatches(password, hash) && known;
  if (ok && !key.empty()) {
    absl::MutexLock lock(&mu_);
    if (remembered_.size() >= kMaxRemembered) remembered_.clear();
    remembered_.insert(key);
  }
  return ok;
}

}  // namespace pgwarden
