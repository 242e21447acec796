#include "sources/table_changes.h"

#include <cstdio>
#include <cstdlib>

#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"

namespace pgwarden {

std::string FormatLsn(uint64_t lsn) {
  return absl::StrFormat("%X/%X", static_cast<uint32_t>(lsn >> 32), static_cast<uint32_t>(lsn));
}

bool ParseLsn(const std::string& text, uint64_t* lsn) {
  std::vector<std::string> parts = absl::StrSplit(text, '/');
  if (parts.size() != 2 || parts[0].empty() || parts[1].empty() || parts[0].size() > 8 ||
      parts[1].size() > 8) {
    return false;
  }
  uint32_t hi = 0;
  uint32_t lo = 0;
  if (!absl::SimpleHexAtoi(parts[0], &hi) || !absl::SimpleHexAtoi(parts[1], &lo)) return false;
  *lsn = (static_cast<uint64_t>(hi) << 32) | lo;
  return true;
}

}  // namespace pgwarden
