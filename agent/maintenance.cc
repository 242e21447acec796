// InMaintenance: whether a declared maintenance window covers a table now.
#include <fnmatch.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "agent/config.h"

namespace pgwarden {

std::string InMaintenance(const MaintenanceConfig& config, const std::string& target,
                          const std::string& schema, const std::string& table, absl::Time t) {
  if (config.windows.empty()) return "";
  absl::TimeZone tz;
  if (!absl::LoadTimeZone(config.timezone, &tz)) tz = absl::UTCTimeZone();
  const std::string full = absl::StrCat(schema, ".", table);
  for (const MaintenanceWindow& w : config.windows) {
    // A window names a target, or one database of a server target
    // ("name/database"); naming the server target covers its databases.
    const std::string server = target.substr(0, target.find('/'));
    if (!w.targets.empty() &&
        std::find(w.targets.begin(), w.targets.end(), target) == w.targets.end() &&
        std::find(w.targets.begin(), w.targets.end(), server) == w.targets.end()) {
      continue;
    }
    if (!w.tables.empty()) {
      if (table.empty()) continue;  // a table window does not cover the database
      bool match = false;
      for (const std::string& g : w.tables) {
        if (::fnmatch(g.c_str(), full.c_str(), 0) == 0) match = true;
      }
      if (!match) continue;
    }
    // The window may have started today or on an earlier day (it can cross
    // midnight); check the start of each of the last 8 days.
    const absl::CivilDay today = absl::ToCivilDay(t, tz);
    for (int back = 0; back <= 7; ++back) {
      const absl::CivilDay day = today - back;
      const int weekday = static_cast<int>(absl::GetWeekday(day));  // Monday = 0
      const int sunday_based = (weekday + 1) % 7;
      if (!w.weekdays.empty() &&
          std::find(w.weekdays.begin(), w.weekdays.end(), sunday_based) == w.weekdays.end()) {
        continue;
      }
      const absl::Time start = absl::FromCivil(absl::CivilMinute(day) + w.start_minute, tz);
      if (t >= start && t < start + w.duration) return w.name;
    }
  }
  return "";
}

}  // namespace pgwarden
