#ifndef PGWARDEN_CORE_CLOCK_H_
#define PGWARDEN_CORE_CLOCK_H_

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace pgwarden {

// Clock is the injected source of time, so that detectors, incidents and
// retries can be tested without sleeping.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual absl::Time Now() const = 0;
  // SleepFor waits `d` (a FakeClock moves forward by `d` instead).
  virtual void SleepFor(absl::Duration d) const = 0;
};

// RealClock reads the system clock.
class RealClock : public Clock {
 public:
  absl::Time Now() const override { return absl::Now(); }
  void SleepFor(absl::Duration d) const override { absl::SleepFor(d); }
  // Get returns a process-wide instance.
  static RealClock* Get();
};

// FakeClock only moves when told to.
class FakeClock : public Clock {
 public:
  explicit FakeClock(absl::Time start = absl::FromUnixSeconds(1700000000)) : now_(start) {}
  absl::Time Now() const override {
    absl::MutexLock lock(&mu_);
    return now_;
  }
  // SleepFor moves the clock forward by `d` at once.
  void SleepFor(absl::Duration d) const override {
    absl::MutexLock lock(&mu_);
    now_ += d;
  }
  // Advance moves the clock forward by `d`.
  void Advance(absl::Duration d) { SleepFor(d); }
  // Set moves the clock to `t`.
  void Set(absl::Time t) {
    absl::MutexLock lock(&mu_);
    now_ = t;
  }

 private:
  mutable absl::Mutex mu_;
  mutable absl::Time now_ ABSL_GUARDED_BY(mu_);
};

}  // namespace pgwarden

#endif  // PGWARDEN_CORE_CLOCK_H_
