#include "incidents/dedup_key.h"

#include <cstdint>
#include <cstdio>

#include "absl/strings/str_cat.h"

namespace pgwarden {
namespace {

// Hex FNV-1a, for keys too long for PagerDuty's 255-character dedup_key.
std::string Fnv1a(const std::string& s) {
  uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

}  // namespace

std::string DedupKey(const std::string& environment, const std::string& target,
                     const std::string& object) {
  std::string key = absl::StrCat("pgwarden/", environment, "/", target, "/", object);
  if (key.size() > 200) key = absl::StrCat(key.substr(0, 180), "~", Fnv1a(key));
  return key;
}

}  // namespace pgwarden
