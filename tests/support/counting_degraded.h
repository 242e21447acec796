#ifndef PGWARDEN_TESTS_SUPPORT_COUNTING_DEGRADED_H_
#define PGWARDEN_TESTS_SUPPORT_COUNTING_DEGRADED_H_

#include <map>
#include <string>

#include "absl/synchronization/mutex.h"
#include "core/degraded.h"

namespace pgwarden {
namespace testing {

// CountingDegraded counts degraded paths by "target/component".
class CountingDegraded : public Degraded {
 public:
  void Count(const std::string& target, const std::string& component) override {
    absl::MutexLock lock(&mu_);
    ++counts_[target + "/" + component];
  }
  int Get(const std::string& target, const std::string& component) const {
    absl::MutexLock lock(&mu_);
    auto it = counts_.find(target + "/" + component);
    return it == counts_.end() ? 0 : it->second;
  }

 private:
  mutable absl::Mutex mu_;
  std::map<std::string, int> counts_ ABSL_GUARDED_BY(mu_);
};

}  // namespace testing
}  // namespace pgwarden

#endif  // PGWARDEN_TESTS_SUPPORT_COUNTING_DEGRADED_H_
