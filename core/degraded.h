#ifndef PGWARDEN_CORE_DEGRADED_H_
#define PGWARDEN_CORE_DEGRADED_H_

#include <string>

namespace pgwarden {

// Degraded counts each time pgwarden carries on without something it
// wanted (attribution, the session guard, the remediation connection, state
// persistence, an audit write): exported as
// pgwarden_degraded_total{target,component} beside the warning it logs.
class Degraded {
 public:
  virtual ~Degraded() = default;
  virtual void Count(const std::string& target, const std::string& component) = 0;
};

// Degraded components (the `component` label).
inline constexpr char kDegradedAttribution[] = "attribution";
inline constexpr char kDegradedSessionGuard[] = "session_guard";
inline constexpr char kDegradedRemediationConnection[] = "remediation_connection";
inline constexpr char kDegradedStatePersist[] = "state_persist";
inline constexpr char kDegradedAudit[] = "audit";

// NoDegraded counts nothing.
class NoDegraded : public Degraded {
 public:
  void Count(const std::string&, const std::string&) override {}
  static NoDegraded* Get() {
    static NoDegraded* instance = new NoDegraded();
    return instance;
  }
};

}  // namespace pgwarden

#endif  // PGWARDEN_CORE_DEGRADED_H_
