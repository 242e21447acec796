#ifndef PGWARDEN_TESTS_SUPPORT_FAILING_FSYNC_H_
#define PGWARDEN_TESTS_SUPPORT_FAILING_FSYNC_H_

#include <cerrno>

#include "core/durable_file.h"

namespace pgwarden {
namespace testing {

// FailingFsync makes every sync of core/durable_file fail with EIO while it
// lives (from the `after`-th call on, counting from 0), and counts the calls.
// One at a time, on one thread.
class FailingFsync {
 public:
  explicit FailingFsync(int after = 0) {
    previous_ = internal::SetFsyncForTesting([this, after](int) {
      if (calls_++ < after) return 0;
      errno = EIO;
      return -1;
    });
  }
  ~FailingFsync() { internal::SetFsyncForTesting(previous_); }
  FailingFsync(const FailingFsync&) = delete;
  FailingFsync& operator=(const FailingFsync&) = delete;
  int calls() const { return calls_; }

 private:
  int calls_ = 0;
  internal::FsyncFunction previous_;
};

}  // namespace testing
}  // namespace pgwarden

#endif  // PGWARDEN_TESTS_SUPPORT_FAILING_FSYNC_H_
