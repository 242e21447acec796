#ifndef PGWARDEN_INCIDENTS_DEDUP_KEY_H_
#define PGWARDEN_INCIDENTS_DEDUP_KEY_H_

#include <string>

namespace pgwarden {

// DedupKey is the stable key of an incident on `object` of `target`; every
// agent watching the same database derives the same one. Keys longer than
// 200 characters are cut and end in a hash of the whole (PagerDuty allows
// 255).
std::string DedupKey(const std::string& environment, const std::string& target,
                     const std::string& object);

}  // namespace pgwarden

#endif  // PGWARDEN_INCIDENTS_DEDUP_KEY_H_
